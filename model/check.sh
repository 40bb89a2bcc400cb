#!/bin/sh
# SPDX-License-Identifier: MIT
# Exhaustive check of model/labyrinth.pml with spin, plus mutants that must fail.
#
# usage: model/check.sh [WORKDIR]
#   WORKDIR  where pan is generated and built (default: a fresh temp dir)
# Environment:
#   SPIN, CC          the tools (default: spin, cc)
#   LAB_MODEL_QUICK=1 skip the 3-thread run (about 20 s and 1 GB)
#
# pan exits 0 even when it finds a violation, so this script reads its
# output: the correct model must report "errors: 0" and no "assertion
# violated"; each mutant must report a violation.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
model=$here/labyrinth.pml
SPIN=${SPIN:-spin}
CC=${CC:-cc}

if ! command -v "$SPIN" >/dev/null 2>&1; then
	echo "model: spin not found; install it (Debian: apt-get install spin)" >&2
	exit 1
fi

if [ $# -ge 1 ]; then
	work=$1
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/lab-model.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi

fail=0

# run NAME EXPECT DEFINES PANFLAGS HASHBITS: EXPECT is "ok" or "violation";
# PANFLAGS also carry the optimisation (compiling pan.c at -O2 takes ~10 s)
run()
{
	name=$1 expect=$2 defs=$3 panflags=$4 w=$5
	dir=$work/$name
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$model" "$dir/"
	# shellcheck disable=SC2086
	if ! (cd "$dir" && "$SPIN" -a $defs labyrinth.pml >spin.log 2>&1); then
		echo "model: $name: spin -a failed:" >&2
		cat "$dir/spin.log" >&2
		fail=1
		return
	fi
	# shellcheck disable=SC2086
	if ! (cd "$dir" && "$CC" -w -DSAFETY $panflags -o pan pan.c >cc.log 2>&1); then
		echo "model: $name: compiling pan failed:" >&2
		cat "$dir/cc.log" >&2
		fail=1
		return
	fi
	start=$(date +%s)
	(cd "$dir" && ./pan -m200000 -w$w >pan.log 2>&1) || true
	secs=$(($(date +%s) - start))
	out=$dir/pan.log
	errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)
	stored=$(sed -n 's/^ *\([0-9][0-9]*\) states, stored.*/\1/p' "$out" | head -n 1)
	matched=$(sed -n 's/^ *\([0-9][0-9]*\) states, matched.*/\1/p' "$out" | head -n 1)
	depth=$(sed -n 's/.*depth reached \([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)
	what=$(grep -m 1 -E '^pan:[0-9]*: *(assertion violated|invalid end state|acceptance cycle)' "$out" || true)
	if [ -z "$errors" ]; then
		echo "model: $name: FAIL: no 'errors:' line from pan:" >&2
		tail -n 20 "$out" >&2
		fail=1
		return
	fi
	if [ "$expect" = ok ]; then
		if [ "$errors" != 0 ] || [ -n "$what" ] || grep -q 'Search not completed' "$out"; then
			echo "model: $name: FAIL: errors: $errors ${what:-}" >&2
			(cd "$dir" && "$SPIN" -t -p $defs labyrinth.pml 2>&1 | tail -n 60) >&2 || true
			fail=1
			return
		fi
		echo "model: $name: ok: $stored states stored, $matched matched, depth $depth, ${secs}s"
	else
		if [ "$errors" = 0 ] && [ -z "$what" ]; then
			echo "model: $name: FAIL: the mutant was not caught ($stored states)" >&2
			fail=1
			return
		fi
		echo "model: $name: caught as expected: ${what:-errors: $errors} ($stored states)"
	fi
}

run t2 ok "" "-O0" 20
run mut_free_store violation "-DMUT_FREE_STORE" "-O0" 20
run mut_no_busy violation "-DMUT_NO_BUSY" "-O0" 20
run mut_no_lock violation "-DMUT_NO_LOCK" "-O0" 20
run mut_count_first violation "-DMUT_COUNT_FIRST" "-O0" 20
if [ "${LAB_MODEL_QUICK:-0}" != 1 ]; then
	run t3 ok "-DNT=3" "-O2 -DCOLLAPSE" 26
fi

if [ $fail != 0 ]; then
	echo "model: FAILED" >&2
	exit 1
fi
echo "model: all checks passed"
