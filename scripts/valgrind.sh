#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run each test program of a build under valgrind memcheck; fail on any error.
set -u
dir=${1:-build-valgrind}
export LAB_TEST_SCALE=${LAB_TEST_SCALE:-20}
# Tests that cannot run under valgrind, and why:
#   huge_address_space_untouched  reserves 64 GiB of address space; valgrind's
#                                 address-space manager refuses it
#   default_maze_*, labyrinth_pages_env  re-execute /proc/self/exe, which is
#                                 valgrind's launcher
#   signal_alone                  valgrind delivers signals only between
#                                 blocks, so none lands inside an alloc or free
#   test_crash (whole program)    single-steps a child with ptrace, which a
#                                 valgrind guest cannot be
declare -A skip=([test_exhaust]=-huge_address_space_untouched
	[test_linux]=-default_maze,labyrinth_pages_env [test_signal]=-signal_alone)
pass=0 fail=0
for t in "$dir"/tests/test_*; do
	[ -x "$t" ] && [ -f "$t" ] || continue
	case "$t" in *.log | */test_crash) continue ;; esac
	if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--child-silent-after-fork=yes --trace-children=no "$t" ${skip[$(basename "$t")]:-} \
		>"$t.valgrind.log" 2>&1; then
		pass=$((pass + 1))
		echo "ok $(basename "$t")"
	else
		fail=$((fail + 1))
		echo "FAIL $(basename "$t") (log: $t.valgrind.log)"
		tail -30 "$t.valgrind.log"
	fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
