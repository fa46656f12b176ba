# cmake -DCORPUS_DIR=... -DARTIFACT_DIR=... -P reset_dirs.cmake: empties (or
# creates) a fuzz target's writable corpus and artifact directories.
foreach(dir IN ITEMS "${CORPUS_DIR}" "${ARTIFACT_DIR}")
  if(dir STREQUAL "")
    message(FATAL_ERROR "reset_dirs.cmake: CORPUS_DIR and ARTIFACT_DIR are required")
  endif()
  file(REMOVE_RECURSE "${dir}")
  file(MAKE_DIRECTORY "${dir}")
endforeach()
