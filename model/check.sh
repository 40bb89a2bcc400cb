#!/bin/sh
# SPDX-License-Identifier: MIT
# Exhaustive checks of the Promela models in model/ with spin, plus mutants
# that must fail:
#   labyrinth.pml  the order-0 alloc/free/give/steal protocol, the sweep and
#                  the scarce hint
#   summary.pml    the group summaries and the group reservations (tags)
#
# usage: model/check.sh [WORKDIR]
#   WORKDIR  where pan is generated and built (default: a fresh temp dir)
# Environment:
#   SPIN, CC          the tools (default: spin, cc)
#   LAB_MODEL_QUICK=1 skip the 3-thread runs (labyrinth.pml: about 15 s
#                     and 1.1 GB; summary.pml: 6 s, and 9 s with the reaper)
#
# pan exits 0 even when it finds a violation, so this script reads its
# output: a correct model must report "errors: 0", no violation and a
# completed search; each mutant must report a violation. The runs go in two
# lanes, one per core (the 3-thread runs in the background; with
# LAB_MODEL_QUICK=1 the summary.pml runs); the background lane reports
# last. About 35-45 s in all on 2 cores, 20 s quick.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
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
	tmpwork=$work
fi
bgpid=
# on any exit: let the background runs finish before their folder goes
cleanup()
{
	if [ -n "$bgpid" ]; then
		wait "$bgpid" 2>/dev/null || true
	fi
	if [ -n "${tmpwork:-}" ]; then
		rm -rf "$tmpwork"
	fi
}
trap cleanup EXIT

fail=0

# run NAME EXPECT MODEL DEFINES PANFLAGS HASHBITS: EXPECT is "ok" or
# "violation"; PANFLAGS also carry the optimisation (compiling pan.c at -O2
# takes ~10 s: only for the big state spaces). Returns 1 on a failure.
run()
{
	name=$1 expect=$2 pml=$3 defs=$4 panflags=$5 w=$6
	dir=$work/$name
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$here/$pml" "$dir/"
	# shellcheck disable=SC2086
	if ! (cd "$dir" && "$SPIN" -a $defs "$pml" >spin.log 2>&1); then
		echo "model: $name: spin -a failed:" >&2
		cat "$dir/spin.log" >&2
		return 1
	fi
	# shellcheck disable=SC2086
	if ! (cd "$dir" && "$CC" -w -DSAFETY $panflags -o pan pan.c >cc.log 2>&1); then
		echo "model: $name: compiling pan failed:" >&2
		cat "$dir/cc.log" >&2
		return 1
	fi
	start=$(date +%s)
	(cd "$dir" && ./pan -m400000 -w$w >pan.log 2>&1) || true
	secs=$(($(date +%s) - start))
	out=$dir/pan.log
	errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)
	stored=$(sed -n 's/^ *\([0-9][0-9.e+]*\) states, stored.*/\1/p' "$out" | head -n 1)
	matched=$(sed -n 's/^ *\([0-9][0-9.e+]*\) states, matched.*/\1/p' "$out" | head -n 1)
	depth=$(sed -n 's/.*depth reached \([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)
	what=$(grep -m 1 -E '^pan:[0-9]*: *(assertion violated|invalid end state|acceptance cycle)' "$out" || true)
	if [ -z "$errors" ]; then
		echo "model: $name: FAIL: no 'errors:' line from pan:" >&2
		tail -n 20 "$out" >&2
		return 1
	fi
	if [ "$expect" = ok ]; then
		if [ "$errors" != 0 ] || [ -n "$what" ] || grep -q -E 'Search not completed|max search depth too small' "$out"; then
			echo "model: $name: FAIL: errors: $errors ${what:-}" >&2
			# shellcheck disable=SC2086
			(cd "$dir" && "$SPIN" -t -p $defs "$pml" 2>&1 | tail -n 60) >&2 || true
			return 1
		fi
		echo "model: $name: ok: $stored states stored, $matched matched, depth $depth, ${secs}s"
	else
		if [ "$errors" = 0 ] && [ -z "$what" ]; then
			echo "model: $name: FAIL: the mutant was not caught ($stored states)" >&2
			return 1
		fi
		echo "model: $name: caught as expected: ${what:-errors: $errors} ($stored states)"
	fi
}

quick=${LAB_MODEL_QUICK:-0}

# labyrinth.pml, 3 threads (skipped by LAB_MODEL_QUICK=1): the long run
# (about 15 s and 1.1 GB), and a mutant that needs a sweep over two caches
lab_runs3()
{
	run t3 ok labyrinth.pml "-DNT=3" "-O2 -DCOLLAPSE" 25
}
lab_mut3()
{
	run mut_steal_break violation labyrinth.pml "-DNT=3 -DMUT_STEAL_BREAK" \
		"-O0 -DCOLLAPSE" 24
}

# labyrinth.pml, 2 threads
lab_runs2()
{
	rc=0
	run t2 ok labyrinth.pml "" "-O0" 20 || rc=1
	run t2_scarce_any ok labyrinth.pml "-DSCARCE_ANY" "-O0" 21 || rc=1
	run mut_free_store violation labyrinth.pml "-DMUT_FREE_STORE" "-O0" 20 || rc=1
	run mut_no_busy violation labyrinth.pml "-DMUT_NO_BUSY" "-O0" 20 || rc=1
	run mut_no_lock violation labyrinth.pml "-DMUT_NO_LOCK" "-O0" 20 || rc=1
	run mut_count_first violation labyrinth.pml "-DMUT_COUNT_FIRST" "-O0" 20 || rc=1
	run mut_sweep_busy_first violation labyrinth.pml "-DMUT_SWEEP_BUSY_FIRST" "-O0" 20 || rc=1
	run mut_scarce_trusted violation labyrinth.pml "-DMUT_SCARCE_TRUSTED" "-O0" 20 || rc=1
	return $rc
}

# summary.pml, 3 threads (skipped by LAB_MODEL_QUICK=1)
sum_runs3()
{
	run sum_t3 ok summary.pml "-DNT=3" "-O0 -DCOLLAPSE" 23
}

# summary.pml with the reaper (3 processes: skipped by LAB_MODEL_QUICK=1)
sum_reap()
{
	run sum_reap ok summary.pml "-DREAP -DP1_TAKES" "-O0 -DCOLLAPSE" 24
}

# summary.pml
sum_runs()
{
	rc=0
	run sum_t2 ok summary.pml "" "-O0" 20 || rc=1
	run sum_wide ok summary.pml "-DP1_TAKES -DRPG=2 -DGPW=2 -DRESERVED_BY_TAG" \
		"-O0" 20 || rc=1
	run sum_relaxed_any ok summary.pml "-DRELAXED_ANY" "-O0 -DCOLLAPSE" 21 || rc=1
	run sum_mut_tag_before_rmw violation summary.pml "-DMUT_TAG_BEFORE_RMW" "-O0" 20 || rc=1
	run sum_mut_publish_first violation summary.pml "-DMUT_PUBLISH_FIRST" "-O0" 20 || rc=1
	run sum_mut_no_republish violation summary.pml "-DMUT_NO_REPUBLISH" "-O0" 20 || rc=1
	run sum_mut_word_no_reread violation summary.pml "-DMUT_WORD_NO_REREAD" "-O0" 20 || rc=1
	run sum_mut_release_publish_first violation summary.pml \
		"-DMUT_RELEASE_PUBLISH_FIRST" "-O0" 20 || rc=1
	run sum_mut_no_wrap violation summary.pml "-DMUT_NO_WRAP" "-O0" 20 || rc=1
	run sum_mut_tag_first violation summary.pml "-DMUT_TAG_FIRST -DREAP -DLATE_TAGCHECK" \
		"-O0" 20 || rc=1
	run sum_mut_reap_no_republish violation summary.pml \
		"-DMUT_REAP_NO_REPUBLISH -DREAP -DP1_TAKES" "-O0" 20 || rc=1
	return $rc
}

# two lanes, one per core: the background one reports last
if [ "$quick" != 1 ]; then
	(
		rc=0
		lab_runs3 || rc=1
		sum_runs3 || rc=1
		exit $rc
	) >"$work/background.out" 2>&1 &
	bgpid=$!
	lab_runs2 || fail=1
	lab_mut3 || fail=1
	sum_runs || fail=1
	sum_reap || fail=1
else
	(
		rc=0
		sum_runs || rc=1
		exit $rc
	) >"$work/background.out" 2>&1 &
	bgpid=$!
	lab_runs2 || fail=1
fi

if [ -n "$bgpid" ]; then
	bgrc=0
	wait "$bgpid" || bgrc=$?
	bgpid=
	cat "$work/background.out"
	[ "$bgrc" = 0 ] || fail=1
fi

if [ $fail != 0 ]; then
	echo "model: FAILED" >&2
	exit 1
fi
echo "model: all checks passed"
