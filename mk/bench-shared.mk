# SPDX-License-Identifier: MIT
# Benchmarks of shared and file-backed mazes (docs/BENCHMARKS.md, "What does sharing cost?"):
#
#   make bench-shared [BUILD=build] [BENCH_SHARED_RUNS=5] [BENCH_SHARED_DIR=/tmp]
#                     [BENCH_SHARED_SIZES=1,4,16,64] [BENCH_SHARED_OUT=out/bench-shared]
#                     [BENCH_SHARED_REPEAT=1] [BENCH_SHARED_XPROC_RUNS=11]
#     1. the price of sharing: labyrinth against labyrinth-shm (the same maze
#        config on a memfd), exclusive and shared pages, every runner workload
#        (`labyrinth bench`; handoff bounded by time, see below)
#     2. two processes on one shared maze against two threads (lab-xproc),
#        pairs and churn50
#     3. recovery time by maze size after a SIGKILLed filler, and lab_reap on a
#        live maze (lab-recovery; files in BENCH_SHARED_DIR, index-only mazes
#        need no room memory: 64 GiB of rooms is a 70 MB file)
#   Tables go to BENCH_SHARED_OUT/N/*.txt (and *.csv for 1), then to stdout;
#   N = 1..BENCH_SHARED_REPEAT invocations, and with more than one the median
#   of their medians (bench/shared/combine.sh) ends the output. About 3
#   minutes per invocation on 2 vCPUs.
#
#   make bench-shared-quick   the same at tiny sizes, one run (a minute)

BENCH_SHARED_RUNS ?= 5
BENCH_SHARED_DIR ?= /tmp
BENCH_SHARED_SIZES ?= 1,4,16,64
BENCH_SHARED_OUT ?= out/bench-shared
BENCH_SHARED_REPEAT ?= 1
BENCH_SHARED_XPROC_RUNS ?= 11
BENCH_SHARED_PEERS = labyrinth,labyrinth-shm,labyrinth-shared,labyrinth-shm-shared

# bench_shared RUNS OPS HANDOFF_SECONDS XPROC_OPS SIZES RECOVERY_RUNS REPEAT XPROC_RUNS
define bench_shared
	@test -x $(BUILD)/lab-xproc && test -x $(BUILD)/lab-recovery || \
		{ echo "make bench-shared: $(BUILD)/lab-xproc or lab-recovery was not built" >&2; exit 1; }
	@st=0; dirs=; for n in $$(seq 1 $(7)); do o=$(BENCH_SHARED_OUT)/$$n; dirs="$$dirs $$o"; \
	mkdir -p $$o; echo "== invocation $$n of $(7), $$(uptime)"; \
	echo "== 1. the price of sharing: labyrinth bench -p $(BENCH_SHARED_PEERS)"; \
	$(BUILD)/labyrinth bench -p $(BENCH_SHARED_PEERS) \
		-w bulk0,bulk9,pairs,churn50,nearfull,signal,fragment -t 1 --pairs-threads 1,2 \
		--runs $(1) --ops $(2) --csv $$o/sharing.csv >$$o/sharing.txt || st=1; \
	cat $$o/sharing.txt; \
	$(BUILD)/labyrinth bench -p $(BENCH_SHARED_PEERS) -w handoff -t 2 --runs $(1) \
		--duration $(3) --csv $$o/sharing-handoff.csv >$$o/sharing-handoff.txt || st=1; \
	cat $$o/sharing-handoff.txt; \
	echo; echo "== 2. two processes against two threads: lab-xproc"; \
	for w in pairs churn50; do \
		$(BUILD)/lab-xproc --workload $$w --workers 2 --runs $(8) --ops $(4) \
			>$$o/xproc-$$w.txt || st=1; cat $$o/xproc-$$w.txt; echo; \
	done; \
	echo "== 3. recovery by size: lab-recovery"; \
	$(BUILD)/lab-recovery --sizes $(5) --runs $(6) --dir $(BENCH_SHARED_DIR) \
		--cases file,file-cold,file-rooms,shm,reap >$$o/recovery.txt || st=1; \
	cat $$o/recovery.txt; echo; \
	done; \
	if [ $(7) -gt 1 ]; then sh bench/shared/combine.sh $$dirs; fi; \
	echo; echo "make bench-shared: tables also in $(BENCH_SHARED_OUT)/"; \
	exit $$st
endef

bench-shared: build
	$(call bench_shared,$(BENCH_SHARED_RUNS),2000000,0.5,20000000,$(BENCH_SHARED_SIZES),3,$(BENCH_SHARED_REPEAT),$(BENCH_SHARED_XPROC_RUNS))

bench-shared-quick: build
	$(call bench_shared,1,20000,0.05,200000,0.25$(comma)1,1,$(BENCH_SHARED_REPEAT),1)

.PHONY: bench-shared bench-shared-quick
