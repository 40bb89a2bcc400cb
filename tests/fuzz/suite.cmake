# SPDX-License-Identifier: MIT
# Fuzz corpus replay, included from the tests block of
# CMakeLists.txt. The fuzzers themselves are built with clang and libFuzzer by
# `make fuzz` (mk/fuzz.mk); here the same sources are linked with
# tests/fuzz/replay.c and the normal static library, and ctest feeds them
# every file of the saved corpus.
foreach(_fz ops config file)
  set(_fz_exe fuzz_${_fz}_replay)
  add_executable(${_fz_exe} ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_${_fz}.c
                            ${PROJECT_SOURCE_DIR}/tests/fuzz/replay.c)
  # fuzz_file reads the object header's layout (src/shared/format.h)
  target_include_directories(${_fz_exe} PRIVATE ${PROJECT_SOURCE_DIR}/include
                                                ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(${_fz_exe} PRIVATE -UNDEBUG)
  set_target_properties(${_fz_exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  lab_link_exe(${_fz_exe})
  add_test(NAME ${_fz_exe} COMMAND ${_fz_exe} ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${_fz})
  set_tests_properties(${_fz_exe} PROPERTIES LABELS fuzz)
endforeach()
# New corpus files must re-run nothing at configure time: the runner reads the
# directory when the test runs.
