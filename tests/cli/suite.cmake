# SPDX-License-Identifier: MIT
# Tests of the labyrinth command (included by the top-level CMakeLists.txt).
#   cli_args         every subcommand's --help, --version, errors for bad arguments
#   cli_map          map writes a PNG that decodes to the announced size; --ansi; stats
#   cli_file         check, recover, map and stats on file mazes (clean, crashed,
#                    damaged, truncated) and on a live shared maze (--shm)
#   cli_bench_smoke  every workload x peer at tiny sizes through the real runners;
#                    CSV (fixed column count), JSON (jq) and the plot (PNG)
if(TARGET labyrinth_cli)
  add_executable(lab_cli_check ${CMAKE_CURRENT_LIST_DIR}/check.c)
  set_target_properties(lab_cli_check PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  target_link_libraries(lab_cli_check PRIVATE PNG::PNG)
  add_dependencies(labyrinth_cli lab_cli_check)
  # makes file and shared mazes, clean or crashed, for cli_file
  add_executable(lab_cli_mkmaze ${CMAKE_CURRENT_LIST_DIR}/mkmaze.c)
  set_target_properties(lab_cli_mkmaze PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  lab_link_exe(lab_cli_mkmaze)
  add_dependencies(labyrinth_cli lab_cli_mkmaze)

  set(_cli_test sh ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh)
  foreach(mode args map file)
    add_test(NAME cli_${mode}
             COMMAND ${_cli_test} ${mode} $<TARGET_FILE:labyrinth_cli> $<TARGET_FILE:lab_cli_check>
                     $<TARGET_FILE:lab_cli_mkmaze>)
    set_tests_properties(cli_${mode} PROPERTIES LABELS cli TIMEOUT 60)
  endforeach()
  if(TARGET labyrinth-runner)
    add_test(NAME cli_bench_smoke
             COMMAND ${_cli_test} bench $<TARGET_FILE:labyrinth_cli> $<TARGET_FILE:lab_cli_check>)
    # alone: other tests on the same CPUs make its runs invalid
    set_tests_properties(cli_bench_smoke PROPERTIES LABELS cli TIMEOUT 120 RUN_SERIAL TRUE)
  endif()
endif()
