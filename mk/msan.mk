# SPDX-License-Identifier: MIT
# make test-msan: the library and tests under clang MemorySanitizer
# (build-msan/). The build-system checks (consumer, headers, freestanding)
# and programs linking other uninstrumented libraries are left out.
test-msan: setup
	$(CMAKE) -S . -B $(BUILD)-msan -DCMAKE_C_COMPILER=clang -DLAB_SANITIZE=memory \
		-DLAB_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_FLAGS="-O1 -g -fsanitize-memory-track-origins" >/dev/null
	$(CMAKE) --build $(BUILD)-msan -j $(JOBS) --target \
		$$(cd tests && ls test_*.c | sed 's/\.c$$//')
	cd $(BUILD)-msan && LAB_TEST_SCALE=4 $(CTEST) --output-on-failure -j $(JOBS) \
		-E 'consumer|headers|freestanding|cli|fuzz|model|crash'

.PHONY: test-msan
