# SPDX-License-Identifier: MIT
# make soak DURATION=seconds: scripts/soak.sh over the normal build and a
# race-widening build (-DLAB_DEBUG_YIELD) in build-yield/.
DURATION ?= 60

soak: build
	$(CMAKE) -S . -B $(BUILD)-yield -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_FLAGS="-O2 -g -DLAB_DEBUG_YIELD" -DLAB_BUILD_BENCH=OFF >/dev/null
	$(CMAKE) --build $(BUILD)-yield -j $(JOBS)
	bash scripts/soak.sh $(DURATION) $(BUILD) $(BUILD)-yield

.PHONY: soak
