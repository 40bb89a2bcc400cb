# SPDX-License-Identifier: MIT
# The runners of `labyrinth bench` (included by the top-level CMakeLists.txt).
# One set of sources, compiled once per variant:
#   labyrinth-runner           labyrinth, labyrinth-shared, labyrinth-shm, labyrinth-shm-shared,
#                              labyrinth-note, glibc, ck-stack, mutex-list, mmap, scan
#   labyrinth-runner-jemalloc  jemalloc  (links -ljemalloc, which replaces malloc)
#   labyrinth-runner-tcmalloc  tcmalloc  (-ltcmalloc_minimal, else -ltcmalloc)
#   labyrinth-runner-mimalloc  mimalloc  (-lmimalloc)
# A variant whose library is missing is skipped with a message; ck-stack is
# left out of labyrinth-runner when libck is missing.
# They land in the build directory root, next to `labyrinth`, and install to
# libexec/labyrinth/.

set(LAB_RUNNER_DIR ${PROJECT_SOURCE_DIR}/bench)
set(LAB_RUNNER_CORE
    ${LAB_RUNNER_DIR}/runner/main.c
    ${LAB_RUNNER_DIR}/runner/common.c
    ${LAB_RUNNER_DIR}/runner/workloads.c
    ${LAB_RUNNER_DIR}/runner/handoff.c
    ${LAB_RUNNER_DIR}/runner/signal.c
    ${LAB_RUNNER_DIR}/peers/registry.c
    ${LAB_RUNNER_DIR}/pin.c
    ${PROJECT_SOURCE_DIR}/cli/number.c)

find_library(LAB_CK_LIB ck)
find_path(LAB_CK_INCLUDE ck_stack.h)
find_library(LAB_JEMALLOC_LIB jemalloc)
find_library(LAB_TCMALLOC_LIB NAMES tcmalloc_minimal tcmalloc)
find_library(LAB_MIMALLOC_LIB mimalloc)
find_path(LAB_MIMALLOC_INCLUDE mimalloc.h)

# lab_runner(TARGET DEFINE SOURCES... [LIBS ...])
function(lab_runner target define)
  cmake_parse_arguments(R "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${target} ${LAB_RUNNER_CORE} ${R_SOURCES})
  target_include_directories(${target} PRIVATE ${LAB_RUNNER_DIR} ${LAB_RUNNER_DIR}/runner
                                               ${PROJECT_SOURCE_DIR}/cli)
  if(define)
    target_compile_definitions(${target} PRIVATE ${define})
  endif()
  set_target_properties(${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
  target_link_libraries(${target} PRIVATE ${R_LIBS} Threads::Threads)
  if(LAB_LIBM)
    target_link_libraries(${target} PRIVATE ${LAB_LIBM})
  endif()
  install(TARGETS ${target} RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/labyrinth)
endfunction()

set(_main_sources ${LAB_RUNNER_DIR}/peers/lab.c ${LAB_RUNNER_DIR}/peers/malloc.c
    ${LAB_RUNNER_DIR}/peers/mutexlist.c ${LAB_RUNNER_DIR}/peers/mmap.c
    ${LAB_RUNNER_DIR}/peers/scan.c ${LAB_RUNNER_DIR}/scan.c)
set(_main_libs labyrinth_static)
set(_main_define "")
if(LAB_CK_LIB AND LAB_CK_INCLUDE)
  list(APPEND _main_sources ${LAB_RUNNER_DIR}/peers/ckstack.c)
  list(APPEND _main_libs ${LAB_CK_LIB})
  set(_main_define RUNNER_HAVE_CK)
else()
  message(STATUS "labyrinth-runner: libck not found, no ck-stack peer (apt install libck-dev)")
endif()
lab_runner(labyrinth-runner "${_main_define}" SOURCES ${_main_sources} LIBS ${_main_libs})

if(LAB_JEMALLOC_LIB)
  lab_runner(labyrinth-runner-jemalloc RUNNER_JEMALLOC
             SOURCES ${LAB_RUNNER_DIR}/peers/malloc.c LIBS ${LAB_JEMALLOC_LIB})
else()
  message(STATUS "labyrinth-runner-jemalloc: libjemalloc not found, skipped")
endif()
if(LAB_TCMALLOC_LIB)
  lab_runner(labyrinth-runner-tcmalloc RUNNER_TCMALLOC
             SOURCES ${LAB_RUNNER_DIR}/peers/malloc.c LIBS ${LAB_TCMALLOC_LIB})
else()
  message(STATUS "labyrinth-runner-tcmalloc: libtcmalloc not found, skipped")
endif()
if(LAB_MIMALLOC_LIB AND LAB_MIMALLOC_INCLUDE)
  lab_runner(labyrinth-runner-mimalloc RUNNER_MIMALLOC
             SOURCES ${LAB_RUNNER_DIR}/peers/malloc.c LIBS ${LAB_MIMALLOC_LIB})
else()
  message(STATUS "labyrinth-runner-mimalloc: libmimalloc not found, skipped")
endif()


# Shared and file-backed mazes (make bench-shared runs them):
#   lab-xproc     two processes on one shared maze against two threads
#   lab-recovery  recovery time of file and shared mazes by size, and lab_reap
foreach(_prog xproc recovery)
  add_executable(lab-${_prog} ${LAB_RUNNER_DIR}/shared/${_prog}.c ${LAB_RUNNER_DIR}/pin.c)
  target_include_directories(lab-${_prog} PRIVATE ${LAB_RUNNER_DIR})
  set_target_properties(lab-${_prog} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
  lab_link_exe(lab-${_prog})
endforeach()

# ctest: every peer of every runner on every workload at tiny sizes; lab-xproc
# and lab-recovery at tiny sizes (both exit 1 when a check fails: rooms handed
# out twice, rooms lost, lab_validate after recovery).
if(LAB_BUILD_TESTS)
  enable_testing()
  add_test(NAME bench_runners COMMAND sh ${LAB_RUNNER_DIR}/smoke.sh ${PROJECT_BINARY_DIR})
  set_tests_properties(bench_runners PROPERTIES LABELS bench TIMEOUT 300)
  add_test(NAME bench_xproc COMMAND sh -c
    "$<TARGET_FILE:lab-xproc> --workload pairs --runs 1 --ops 20000 --pages 4096 && $<TARGET_FILE:lab-xproc> --workload churn50 --runs 1 --ops 20000 --pages 4096")
  add_test(NAME bench_recovery COMMAND $<TARGET_FILE:lab-recovery> --sizes 0.0625 --rooms-gib 0.0625
    --runs 1 --churn-ms 5 --cases file,file-cold,file-rooms,shm,reap --dir ${PROJECT_BINARY_DIR})
  set_tests_properties(bench_xproc bench_recovery PROPERTIES LABELS bench TIMEOUT 120)
endif()

# Probes of the core that the runner has no workload for (docs/BENCHMARKS.md):
# built, not installed, not tests.
foreach(_probe near scale)
  add_executable(lab-probe-${_probe} ${LAB_RUNNER_DIR}/probes/${_probe}.c)
  lab_link_exe(lab-probe-${_probe})
endforeach()
