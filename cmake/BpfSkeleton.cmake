# vigie_bpf_skeleton(<target> SOURCE <x.bpf.c> VMLINUX_DIR <dir> [DEPENDS <headers>...])
#
# Compiles a CO-RE eBPF program with clang and turns it into a libbpf
# skeleton header (`bpftool gen skeleton`), after libbpf-bootstrap. <target>
# is an INTERFACE library that puts the generated `<x>.skel.h` in the include
# path of whatever links it. Needs CLANG_EXE and BPFTOOL_EXE (top level).
function(vigie_bpf_skeleton target)
  cmake_parse_arguments(B "" "SOURCE;VMLINUX_DIR" "DEPENDS" ${ARGN})
  if(NOT B_SOURCE OR NOT B_VMLINUX_DIR)
    message(FATAL_ERROR "vigie_bpf_skeleton(${target}): SOURCE and VMLINUX_DIR are required")
  endif()
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
    set(arch x86)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
    set(arch arm64)
  else()
    message(FATAL_ERROR "vigie_bpf_skeleton: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
  endif()

  get_filename_component(src ${B_SOURCE} ABSOLUTE)
  get_filename_component(src_dir ${src} DIRECTORY)
  get_filename_component(stem ${src} NAME_WE)  # sensor.bpf.c -> sensor
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/bpf_gen)
  set(obj ${out_dir}/${stem}.bpf.o)
  set(skel ${out_dir}/${stem}.skel.h)

  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${CLANG_EXE} -g -O2 -target bpf -D__TARGET_ARCH_${arch}
            -I${B_VMLINUX_DIR}/${arch} -I${src_dir} -c ${src} -o ${obj}
    DEPENDS ${src} ${B_DEPENDS} ${B_VMLINUX_DIR}/${arch}/vmlinux.h
    COMMENT "clang -target bpf ${stem}.bpf.c"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND sh -c "\"$1\" gen skeleton \"$2\" > \"$3.tmp\" && mv \"$3.tmp\" \"$3\""
            sh ${BPFTOOL_EXE} ${obj} ${skel}
    DEPENDS ${obj}
    COMMENT "bpftool gen skeleton ${stem}.bpf.o"
    VERBATIM)
  add_custom_target(${target}_gen DEPENDS ${skel})

  add_library(${target} INTERFACE)
  target_include_directories(${target} INTERFACE ${out_dir})
  add_dependencies(${target} ${target}_gen)
endfunction()
