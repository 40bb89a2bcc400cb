#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Soak: run every concurrency test again and again for DURATION seconds,
# with fresh seeds, in three set-ups: the normal build, oversubscribed (all
# threads on CPU 0), and a race-widening build (-DLAB_DEBUG_YIELD) that yields
# or sleeps inside the protocol's windows. Prints runs, operations (block
# allocations, each freed again) and violations; failures are kept in
# out/soak-failures.log with their seeds. Exit 1 on any violation.
#   scripts/soak.sh DURATION NORMAL_BUILD_DIR YIELD_BUILD_DIR
set -u
dur=${1:-60}
normal=${2:-build}
yield=${3:-build-yield}
mkdir -p out
log=out/soak-failures.log
: >"$log"
end=$(($(date +%s) + dur))
runs=0 ops=0 bad=0
declare -A per_runs per_ops

# name|build|prefix|test args (SEED is replaced)
configs=(
	"stress-4t|$normal||test_stress 4 200000 SEED"
	"stress-8t|$normal||test_stress 8 100000 SEED"
	"steal-4t|$normal||test_steal 4 200000 SEED"
	"signal|$normal||test_signal"
	"stress-8t-cpu0|$normal|taskset -c 0|test_stress 8 50000 SEED"
	"steal-8t-cpu0|$normal|taskset -c 0|test_steal 8 50000 SEED"
	"stress-4t-yield|$yield||test_stress 4 50000 SEED"
	"steal-4t-yield|$yield||test_steal 4 50000 SEED"
	"stress-8t-cpu0-yield|$yield|taskset -c 0|test_stress 8 20000 SEED"
	"signal-yield|$yield||test_signal"
)

i=0
while [ "$(date +%s)" -lt "$end" ]; do
	IFS='|' read -r name dir prefix cmd <<<"${configs[$((i % ${#configs[@]}))]}"
	i=$((i + 1))
	seed=$(( (RANDOM << 16) ^ RANDOM ^ i ))
	cmd=${cmd//SEED/$seed}
	set -- $cmd
	exe=$dir/tests/$1
	shift
	out=$(timeout 300 $prefix "$exe" "$@" 2>&1)
	rc=$?
	# "N allocs" (stress, signal) or "allocs=N" (steal); not "iters=N allocs=..."
	n=$( (printf '%s\n' "$out" | grep -oE '(^|[ ,;:(])[0-9]+ allocs' | grep -oE '[0-9]+'
		printf '%s\n' "$out" | grep -oE 'allocs=[0-9]+' | grep -oE '[0-9]+') |
		awk '{s += $1} END {print s + 0}')
	runs=$((runs + 1))
	ops=$((ops + n))
	per_runs[$name]=$((${per_runs[$name]:-0} + 1))
	per_ops[$name]=$((${per_ops[$name]:-0} + n))
	if [ $rc -ne 0 ]; then
		bad=$((bad + 1))
		{
			echo "== $name seed=$seed rc=$rc: $prefix $exe $*"
			printf '%s\n' "$out" | tail -40
		} >>"$log"
		echo "VIOLATION in $name (seed $seed), see $log"
	fi
done

echo "soak: ${dur}s, $runs runs, $ops operations, $bad violations"
for k in $(printf '%s\n' "${!per_runs[@]}" | sort); do
	printf '  %-22s %5d runs %12d operations\n' "$k" "${per_runs[$k]}" "${per_ops[$k]}"
done
[ $bad -eq 0 ]
