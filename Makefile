# SPDX-License-Identifier: MIT
# labyrinth: entry points. CMake does the building; this file drives it.
#
#   make run             set up, build, a quick `labyrinth bench` (a minute or two),
#                        writing out/bench.{csv,json,png} and out/maze.png [RUN_ARGS=...]
#   make test            set up, build, run every test through ctest
#   make bench           build, then the figures of docs/BENCHMARKS.md (bench/figures.sh)
#                        into out/figures/ [BENCH_FIGURES="scale size scan peers"]
#                        [BENCH_REPEAT=N: each N times, the median of them];
#                        with BENCH_ARGS=..., one `labyrinth bench $(BENCH_ARGS)` instead
#   make install         PREFIX=/usr/local [DESTDIR=...]
#   make test-asan       ASan+UBSan suite, gcc and clang (build-asan-gcc/, build-asan-clang/)
#   make test-tsan       clang TSan suite (build-tsan/)
#   make check-freestanding   the core builds with -ffreestanding, no undefined symbols
#   make format / format-check
#   make clean           remove every build directory
#
# CC and CFLAGS are honoured: passed to CMake whenever they are set (the build
# dir keeps the compiler it was last given). CFLAGS replace the default -O2 -g.
# LAB_WERROR=ON turns warnings into errors.

BUILD ?= build
PREFIX ?= /usr/local
LAB_WERROR ?= OFF
CTEST_JOBS ?= 2
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BENCH_ARGS ?=
BENCH_FIGURES ?= scale size scan peers
BENCH_REPEAT ?= 1
CMAKE ?= cmake
CTEST ?= ctest

SETUP := sh scripts/setup.sh
CMAKE_ARGS = -DLAB_WERROR=$(LAB_WERROR)
comma := ,

ifeq ($(filter default undefined,$(origin CC)),)
CMAKE_ARGS += -DCMAKE_C_COMPILER=$(CC)
endif
# Given CFLAGS replace the default -O2 -g (autoconf style); NDEBUG stays.
ifneq ($(origin CFLAGS),undefined)
CMAKE_ARGS += "-DCMAKE_C_FLAGS=$(CFLAGS)" -DCMAKE_C_FLAGS_RELWITHDEBINFO=-DNDEBUG
else
CMAKE_ARGS += -DCMAKE_C_FLAGS= "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g -DNDEBUG"
endif

# configure DIR ARGS...: (re)run cmake only when the build dir is new or its
# arguments changed since the last time; otherwise the build re-configures
# itself as needed (new sources are picked up through CONFIGURE_DEPENDS).
define configure
	@args='$(2)'; \
	if [ ! -f $(1)/CMakeCache.txt ] || [ "$$(cat $(1)/.lab-cmake-args 2>/dev/null)" != "$$args" ]; then \
		echo "$(CMAKE) -S . -B $(1) $$args"; \
		$(CMAKE) -S . -B $(1) $(2) && echo "$$args" > $(1)/.lab-cmake-args; \
	fi
endef

# Sanitizer build dirs: -O1 -g, asserts on, LAB_TEST_SCALE=4 shrinks the work.
SAN_CMAKE = -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-O1 -g" -DLAB_BUILD_BENCH=OFF -DLAB_WERROR=$(LAB_WERROR)
SAN_ENV = LAB_TEST_SCALE=$${LAB_TEST_SCALE:-4}
ASAN_ENV = $(SAN_ENV) ASAN_OPTIONS=$${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1} \
	UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
TSAN_ENV = $(SAN_ENV) TSAN_OPTIONS=$${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

FORMAT_FILES = $(wildcard include/*.h include/*/*.h src/*.[ch] src/*/*.[ch] cli/*.[ch] \
	bench/*.[ch] bench/*/*.[ch] tests/*.[ch] tests/*/*.[ch])

.PHONY: all setup configure build run bench test install clean test-asan test-tsan \
	check-freestanding format format-check

all: build

setup:
	@$(SETUP)

configure:
	$(call configure,$(BUILD),$(CMAKE_ARGS))

build: configure
	$(CMAKE) --build $(BUILD) -j $(JOBS)

# make run: the quick suite of `labyrinth bench` (every workload, every peer found,
# 3 runs after a warm-up; scale at 1 ... nproc threads, the size sweep up to 4M
# rooms), then the maze after fragment.
RUN_DIR ?= out
RUN_ARGS ?=
run: setup
	@$(MAKE) --no-print-directory build
	@test -x $(BUILD)/labyrinth || { echo "make run: $(BUILD)/labyrinth was not built (no cli/*.c?)" >&2; exit 1; }
	@mkdir -p $(RUN_DIR)
	@st=0; $(BUILD)/labyrinth bench --quick -w all,scale,size --csv $(RUN_DIR)/bench.csv \
		--json $(RUN_DIR)/bench.json --png $(RUN_DIR)/bench.png $(RUN_ARGS) || st=$$?; \
	$(BUILD)/labyrinth map --workload fragment --out $(RUN_DIR)/maze.png || st=$$?; \
	echo; \
	echo "make run: the table above is also in $(RUN_DIR)/bench.csv and $(RUN_DIR)/bench.json;"; \
	echo "  plot: $(RUN_DIR)/bench.png (ns/op per workload and peer; threads vs Mops/s;"; \
	echo "        rooms vs ns/op);"; \
	echo "  maze: $(RUN_DIR)/maze.png (after the fragment workload)."; \
	echo "  More: $(BUILD)/labyrinth --help, man docs/labyrinth.1"; \
	if [ $$st -ne 0 ]; then echo "make run: some rows failed a check (status error above)" >&2; fi; \
	exit $$st

bench: build
	@test -x $(BUILD)/labyrinth-runner || { echo "make bench: $(BUILD)/labyrinth-runner was not built (LAB_BUILD_BENCH=OFF?)" >&2; exit 1; }
	@if [ -n '$(BENCH_ARGS)' ]; then $(BUILD)/labyrinth bench $(BENCH_ARGS); \
	else FIGURES_REPEAT=$(BENCH_REPEAT) sh bench/figures.sh $(BUILD) $(RUN_DIR)/figures \
		$(BENCH_FIGURES); fi

# ctest also runs the build-side checks: freestanding (check-freestanding),
# headers_cxx and consumer_pkgconfig (the installed copy through pkg-config).
test: setup
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && $(CTEST) --output-on-failure --no-label-summary -j $(CTEST_JOBS)

install: build
	DESTDIR=$(DESTDIR) $(CMAKE) --install $(BUILD) --prefix $(PREFIX)

test-asan: setup
	$(call configure,$(BUILD)-asan-gcc,-DCMAKE_C_COMPILER=gcc -DLAB_SANITIZE=address$(comma)undefined $(SAN_CMAKE))
	$(CMAKE) --build $(BUILD)-asan-gcc -j $(JOBS)
	$(call configure,$(BUILD)-asan-clang,-DCMAKE_C_COMPILER=clang -DLAB_SANITIZE=address$(comma)undefined $(SAN_CMAKE))
	$(CMAKE) --build $(BUILD)-asan-clang -j $(JOBS)
	@st=0; for d in $(BUILD)-asan-gcc $(BUILD)-asan-clang; do \
		echo "== $$d"; \
		(cd $$d && $(ASAN_ENV) $(CTEST) --output-on-failure --no-label-summary -j $(CTEST_JOBS)) || st=1; \
	done; exit $$st

test-tsan: setup
	$(call configure,$(BUILD)-tsan,-DCMAKE_C_COMPILER=clang -DLAB_SANITIZE=thread $(SAN_CMAKE))
	$(CMAKE) --build $(BUILD)-tsan -j $(JOBS)
	cd $(BUILD)-tsan && $(TSAN_ENV) $(CTEST) --output-on-failure --no-label-summary -j $(CTEST_JOBS)

check-freestanding:
	sh scripts/check-freestanding.sh . gcc clang

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD) $(BUILD)-asan-gcc $(BUILD)-asan-clang $(BUILD)-tsan $(BUILD)-yield \
		$(BUILD)-valgrind $(BUILD)-msan $(BUILD)-fuzz

# Extra targets of the hardening suites (fuzz, soak, model, ...), one file each.
-include mk/*.mk
