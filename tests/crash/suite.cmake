# SPDX-License-Identifier: MIT
# tests/crash/: crash at any instruction.
# Included from the tests block of the top-level CMakeLists.txt.
# Not in sanitizer builds: their instrumented atomics multiply the steps, and
# the sweep checks the plain build's instructions.
#   crash_sweep      the core on a MAP_SHARED region (crash.c)
#   crash_api_shm    the public API on a memfd maze, lab_recover at every
#   crash_api_file   crash point; on a file maze (crash_api.c)
if(NOT LAB_SANITIZE)
add_executable(test_crash ${CMAKE_CURRENT_LIST_DIR}/crash.c ${CMAKE_CURRENT_LIST_DIR}/crash_api.c)
target_include_directories(test_crash PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_options(test_crash PRIVATE -UNDEBUG)
# Bind every symbol at start-up: lazy binding would add thousands of steps
# to the first call of each libc function inside a stepped operation.
target_link_options(test_crash PRIVATE -Wl,-z,now)
set_target_properties(test_crash PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
lab_link_exe(test_crash)
add_test(NAME crash_sweep COMMAND test_crash)
add_test(NAME crash_api_shm COMMAND test_crash shm)
add_test(NAME crash_api_file COMMAND test_crash file)
set_tests_properties(crash_sweep crash_api_shm crash_api_file PROPERTIES TIMEOUT 300
                     LABELS crash SKIP_RETURN_CODE 77)
endif()
