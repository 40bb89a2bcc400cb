# SPDX-License-Identifier: MIT
# tests/xproc/: crash tests across processes: SIGKILL at random
# moments, several processes on one shared maze with one killed, gives and
# KERNEL waits across processes. Included from the tests block of the
# top-level CMakeLists.txt; tests/xproc/README.md describes them. The names
# start with crash_ like the single-process sweeps (make test-msan leaves
# both out: it builds tests/test_*.c only).
add_executable(test_xproc ${CMAKE_CURRENT_LIST_DIR}/xproc.c)
target_compile_options(test_xproc PRIVATE -UNDEBUG)
set_target_properties(test_xproc PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
lab_link_exe(test_xproc)
add_test(NAME crash_xproc_kill COMMAND test_xproc kill)
add_test(NAME crash_xproc_procs COMMAND test_xproc procs)
add_test(NAME crash_xproc_give COMMAND test_xproc give)
add_test(NAME crash_xproc_kernel COMMAND test_xproc kernel)
set_tests_properties(crash_xproc_kill crash_xproc_procs crash_xproc_give crash_xproc_kernel
                     PROPERTIES LABELS "crash;xproc" TIMEOUT 300)
