# SPDX-License-Identifier: MIT
# model/: the Promela model of the alloc/free/give protocol (issue 4, section 6).
# Included from the tests block of the top-level CMakeLists.txt.
# The model does not depend on how the library is built: it runs in the plain
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
