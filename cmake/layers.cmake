# The architecture's layering, checked at configure time: a component links
# only components of lower layers (ARCHITECTURE.md, "Dependency graph"; its
# `layer N:` lines are the single source of the order). A violation stops the
# configuration, so the build and the test suite fail.
#
# vigie_check_layers(): call once every component target exists.
function(vigie_check_layers)
  file(STRINGS "${PROJECT_SOURCE_DIR}/ARCHITECTURE.md" lines REGEX "^layer [0-9]+:")
  if(NOT lines)
    message(FATAL_ERROR "ARCHITECTURE.md has no 'layer N: components' lines")
  endif()
  set(components "")
  foreach(line IN LISTS lines)
    string(REGEX MATCH "^layer ([0-9]+):(.*)$" _ "${line}")
    set(rank "${CMAKE_MATCH_1}")
    string(STRIP "${CMAKE_MATCH_2}" names)
    string(REPLACE " " ";" names "${names}")
    foreach(name IN LISTS names)
      if(name STREQUAL "")
        continue()
      endif()
      set(rank_${name} ${rank})
      list(APPEND components ${name})
    endforeach()
  endforeach()
  # The executables sit above the library they wrap.
  set(target_cli vigie)
  foreach(component IN LISTS components)
    set(target ${component})
    if(DEFINED target_${component})
      set(target ${target_${component}})
    endif()
    if(NOT TARGET ${target})
      message(FATAL_ERROR "ARCHITECTURE.md names component '${component}', which has no target")
    endif()
    get_target_property(links ${target} LINK_LIBRARIES)
    get_target_property(interface_links ${target} INTERFACE_LINK_LIBRARIES)
    foreach(link IN LISTS links interface_links)
      # vigie::x, or x itself, or $<LINK_ONLY:vigie::x> in interface links
      string(REGEX MATCH "vigie::([a-z_]+)" _ "${link}")
      set(dep "${CMAKE_MATCH_1}")
      if(dep STREQUAL "" OR NOT DEFINED rank_${dep})
        continue()
      endif()
      if(NOT rank_${dep} LESS rank_${component})
        message(FATAL_ERROR
          "layering: ${component} (layer ${rank_${component}}) links vigie::${dep} "
          "(layer ${rank_${dep}}): a component links only lower layers (ARCHITECTURE.md)")
      endif()
    endforeach()
  endforeach()
  list(LENGTH components count)
  message(STATUS "layering: ${count} components checked against ARCHITECTURE.md")
endfunction()
