# SPDX-License-Identifier: MIT
# model/: the Promela models of the core's protocols (labyrinth.pml: order-0
# alloc/free/give/steal and the scarce hint; summary.pml: group summaries and
# reservations), checked by model/check.sh as one test.
# Included from the tests block of the top-level CMakeLists.txt.
# The models do not depend on how the library is built: they run in the plain
# build only, not again in each sanitizer build.
if(NOT LAB_SANITIZE)
find_program(LAB_SPIN spin)
if(LAB_SPIN)
  add_test(NAME model_spin
           COMMAND env SPIN=${LAB_SPIN} CC=${CMAKE_C_COMPILER}
                   sh ${PROJECT_SOURCE_DIR}/model/check.sh ${PROJECT_BINARY_DIR}/model)
  set_tests_properties(model_spin PROPERTIES TIMEOUT 300 LABELS model)
else()
  # spin is a required package of scripts/setup.sh: fail loudly, do not skip.
  add_test(NAME model_spin
           COMMAND sh -c "echo 'model_spin: spin not found; run scripts/setup.sh or apt-get install spin' >&2; exit 1")
  set_tests_properties(model_spin PROPERTIES LABELS model)
endif()
endif()
