# SPDX-License-Identifier: MIT
# make crash-soak: the crash tests at length (scripts/crash-soak.sh):
# 10,000 rounds of SIGKILL at random (xproc kill), CRASH_PROCS rounds of
# processes with one killed (xproc procs), repeated gives and KERNEL waits
# across processes, and the ptrace sweeps through the public API in full
# (every crash point of every operation, shm and file; CRASH_API=0 leaves
# them out: they take the longest). CRASH_SEED replays a run.
CRASH_ROUNDS ?= 10000
CRASH_PROCS ?= 300
CRASH_API ?= 1
CRASH_SEED ?=

crash-soak: build
	bash scripts/crash-soak.sh $(BUILD) $(CRASH_ROUNDS) $(CRASH_PROCS) $(CRASH_API) $(CRASH_SEED)

.PHONY: crash-soak
