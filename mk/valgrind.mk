# SPDX-License-Identifier: MIT
# make test-valgrind: every test program under valgrind memcheck, in its own
# build (build-valgrind/, -O1 -g). helgrind and drd are not used: they give
# false reports on C11 atomics. LAB_TEST_SCALE shrinks the stress loops.
test-valgrind: setup
	$(CMAKE) -S . -B $(BUILD)-valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_FLAGS="-O1 -g" -DLAB_BUILD_BENCH=OFF >/dev/null
	$(CMAKE) --build $(BUILD)-valgrind -j $(JOBS)
	bash scripts/valgrind.sh $(BUILD)-valgrind

.PHONY: test-valgrind
