# SPDX-License-Identifier: MIT
# Fuzzing: tests/fuzz/.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_ARGS=...] [FUZZ_TARGETS="ops config file"]
#       builds fuzz_ops, fuzz_config and fuzz_file with clang -fsanitize=fuzzer,address,undefined
#       in build-fuzz/ and runs each for FUZZ_SECONDS, seeded with the saved
#       corpus (tests/fuzz/corpus/*); new inputs go to build-fuzz/corpus-*, crashes
#       to build-fuzz/artifacts/.
#   make fuzz-merge
#       minimises the saved corpus plus build-fuzz/corpus-* into a fresh directory
#       (libFuzzer -merge=1 -use_counters=0: one file per new edge, so it stays
#       small) and puts it in place of tests/fuzz/corpus/*. Files whose names are
#       not hashes (regression inputs, long hand-made sequences) are kept and go
#       in first, so that hashed files are added only for edges they miss.
#   make fuzz-build      only the build
#   make fuzz-clean      remove build-fuzz/
#   make fuzz-file-seeds
#       writes the named seed files of tests/fuzz/corpus/file (small maze
#       files, clean and crashed, made by the library itself) again
#
# The saved corpus is replayed by ctest (fuzz_ops_replay, fuzz_config_replay,
# fuzz_file_replay) in the normal build: tests/fuzz/suite.cmake.

FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_ARGS ?=
FUZZ_TARGETS ?= ops config file
FUZZ_CFLAGS := -std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wpedantic \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc
FUZZ_LIB_SRC = $(sort $(wildcard src/*.c src/core/*.c src/platform/*.c src/shared/*.c))
FUZZ_LIB_HDR = $(wildcard include/*.h include/*/*.h src/*.h src/*/*.h)
# timeout: a KERNEL wait that should not happen shows up as a hang
FUZZ_RUN_ARGS = -timeout=20 -rss_limit_mb=4096 -print_final_stats=1
# max_len per target (shell): the fuzz_ops inputs are operation lists; the
# fuzz_file inputs are a mode byte and a maze file of up to 1 MiB
FUZZ_MAXLEN = case $$t in file) ml=1048577;; *) ml=4096;; esac
FUZZ_ENV = ASAN_OPTIONS=$${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
	UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

.PHONY: fuzz fuzz-build fuzz-merge fuzz-clean fuzz-file-seeds

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_SRC) $(FUZZ_LIB_HDR) mk/fuzz.mk
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FUZZ_LIB_SRC) -lpthread -o $@

fuzz-build: $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))

fuzz: fuzz-build
	@mkdir -p $(FUZZ_DIR)/artifacts
	@st=0; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus-$$t tests/fuzz/corpus/$$t; \
		echo "== fuzz_$$t for $(FUZZ_SECONDS) s (log: $(FUZZ_DIR)/fuzz_$$t.log)"; \
		$(FUZZ_MAXLEN); \
		if $(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$$t $(FUZZ_RUN_ARGS) -max_len=$$ml \
			-max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- \
			$(FUZZ_ARGS) $(FUZZ_DIR)/corpus-$$t tests/fuzz/corpus/$$t \
			> $(FUZZ_DIR)/fuzz_$$t.log 2>&1; then \
			grep -e '^#[0-9]*[[:space:]]*\(INITED\|DONE\)' -e '^stat::' $(FUZZ_DIR)/fuzz_$$t.log; \
		else \
			tail -n 60 $(FUZZ_DIR)/fuzz_$$t.log; \
			echo "fuzz_$$t FAILED: see $(FUZZ_DIR)/fuzz_$$t.log and $(FUZZ_DIR)/artifacts/"; \
			st=1; \
		fi; \
	done; exit $$st

fuzz-merge: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus-$$t tests/fuzz/corpus/$$t; \
		rm -rf $(FUZZ_DIR)/merge-$$t && mkdir -p $(FUZZ_DIR)/merge-$$t; \
		for k in $$(ls tests/fuzz/corpus/$$t | grep -v '^[0-9a-f]\{40\}$$'); do \
			cp tests/fuzz/corpus/$$t/$$k $(FUZZ_DIR)/merge-$$t/; \
		done; \
		$(FUZZ_MAXLEN); \
		if ! $(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$$t $(FUZZ_RUN_ARGS) -max_len=$$ml -merge=1 -use_counters=0 \
			$(FUZZ_DIR)/merge-$$t tests/fuzz/corpus/$$t $(FUZZ_DIR)/corpus-$$t \
			> $(FUZZ_DIR)/merge-$$t.log 2>&1; then \
			tail -n 30 $(FUZZ_DIR)/merge-$$t.log; \
			echo "fuzz-merge: fuzz_$$t failed; tests/fuzz/corpus/$$t left as it was"; \
			exit 1; \
		fi; \
		grep '^MERGE-OUTER: [0-9]* new files' $(FUZZ_DIR)/merge-$$t.log; \
		rm -rf tests/fuzz/corpus/$$t && cp -r $(FUZZ_DIR)/merge-$$t tests/fuzz/corpus/$$t; \
		echo "tests/fuzz/corpus/$$t: $$(ls tests/fuzz/corpus/$$t | wc -l) files," \
			"$$(du -sk tests/fuzz/corpus/$$t | cut -f1) KiB"; \
	done

# the seed generator: fuzz_file.c with its own main, no sanitizer
$(FUZZ_DIR)/fuzz_file_seeds: tests/fuzz/fuzz_file.c $(FUZZ_LIB_SRC) $(FUZZ_LIB_HDR) mk/fuzz.mk
	@mkdir -p $(FUZZ_DIR)
	$(CC) -std=c11 -O1 -g -Wall -Wextra -Wpedantic -DFUZZ_FILE_SEEDS -Iinclude -Isrc $< \
		$(FUZZ_LIB_SRC) -lpthread -o $@

fuzz-file-seeds: $(FUZZ_DIR)/fuzz_file_seeds
	@mkdir -p tests/fuzz/corpus/file
	$(FUZZ_DIR)/fuzz_file_seeds tests/fuzz/corpus/file

fuzz-clean:
	rm -rf $(FUZZ_DIR)
