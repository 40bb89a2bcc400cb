#!/bin/sh
# SPDX-License-Identifier: MIT
# Smoke test of the runners: every peer of every runner binary in BUILD_DIR,
# every workload, 1 and 2 threads, at tiny sizes. Each invocation must exit
# 0 and print only well-formed result lines with status ok, invalid (runs
# this short are: under 10 ms, and two threads rarely overlap) or na. Then
# the overlap check itself: one thread overlaps itself fully; a second
# thread started 30 ms late (--stagger) makes the run invalid; so does a
# busy loop on the one CPU a single thread may use (its cpu share).
#   sh bench/smoke.sh BUILD_DIR
set -u
dir=${1:?usage: smoke.sh BUILD_DIR}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
num='[-+.0-9eE]+'
re="^result peer=[^ ]+ workload=[a-z0-9]+ metric=[a-z]+ value=$num unit=(ns|us|%|Mops) mops=$num ops=[0-9]+ threads=[0-9]+ pages=[0-9]+ window=$num overlap=$num cpu=$num status=(ok|invalid|na) note=.*$"
runs=0
fail=0
for r in labyrinth-runner labyrinth-runner-jemalloc labyrinth-runner-tcmalloc \
	labyrinth-runner-mimalloc; do
	[ -x "$dir/$r" ] || continue
	for p in $("$dir/$r" --list | awk '$1 == "peer" { print $2 }'); do
		for w in bulk0 bulk9 pairs churn10 churn90 handoff nearfull signal fragment; do
			pages=1024
			[ "$w" = nearfull ] && pages=4096
			for t in 1 2; do
				runs=$((runs + 1))
				"$dir/$r" --peer "$p" --workload "$w" --pages $pages --ops 10000 \
					--threads $t >"$tmp/out" 2>"$tmp/err"
				rc=$?
				if [ $rc -ne 0 ] || [ ! -s "$tmp/out" ] ||
					grep -Evq "$re" "$tmp/out"; then
					echo "FAIL: $r --peer $p --workload $w --threads $t (exit $rc)"
					cat "$tmp/out" "$tmp/err"
					fail=$((fail + 1))
				fi
			done
		done
	done
done
echo "smoke: $runs runs, $fail failed"

# field NAME FILE: the value of NAME= in the first result line
field()
{
	sed -n "1s/.* $1=\([^ ]*\) .*/\1/p" "$2"
}
lab=$dir/labyrinth-runner
if [ -x "$lab" ]; then
	"$lab" --peer labyrinth --workload pairs --ops 20000 --min-window 0 >"$tmp/one" ||
		{ echo "FAIL: one thread, exit $?"; fail=$((fail + 1)); }
	[ "$(field overlap "$tmp/one")" = 100 ] && [ "$(field status "$tmp/one")" = ok ] ||
		{ echo "FAIL: one thread must overlap itself: $(cat "$tmp/one")"; fail=$((fail + 1)); }
	"$lab" --peer labyrinth --workload pairs --threads 2 --ops 20000 --min-window 0 \
		--stagger 30 >"$tmp/late" ||
		{ echo "FAIL: staggered, exit $?"; fail=$((fail + 1)); }
	ov=$(field overlap "$tmp/late")
	if [ "$(field status "$tmp/late")" != invalid ] ||
		! awk -v o="${ov:-100}" 'BEGIN { exit !(o < 90) }' ||
		! grep -q "note=overlap [0-9.]*% < 90%" "$tmp/late"; then
		echo "FAIL: a thread 30 ms late must make the run invalid: $(cat "$tmp/late")"
		fail=$((fail + 1))
	fi
	cpu=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*\([0-9]*\).*/\1/p' /proc/self/status)
	if command -v taskset >/dev/null 2>&1 && [ -n "$cpu" ]; then
		taskset -c "$cpu" sh -c 'while :; do :; done' &
		hog=$!
		taskset -c "$cpu" "$lab" --peer labyrinth --workload pairs --ops 5000000 >"$tmp/hog"
		kill "$hog"
		wait "$hog" 2>/dev/null
		if [ "$(field status "$tmp/hog")" != invalid ] ||
			! grep -q "note=waited for a CPU [0-9.]*% of the time > 10%" "$tmp/hog"; then
			echo "FAIL: a CPU shared with a busy loop must make the run invalid: $(cat "$tmp/hog")"
			fail=$((fail + 1))
		fi
	fi
	"$lab" --peer labyrinth --workload bulk0 --pages 4096 --repeat 3 --no-warmup --no-pin \
		--min-window 0 >"$tmp/rep" || { echo "FAIL: --repeat 3, exit $?"; fail=$((fail + 1)); }
	[ "$(field ops "$tmp/rep")" = 12288 ] ||
		{ echo "FAIL: --repeat 3 of 4096 rooms: $(cat "$tmp/rep")"; fail=$((fail + 1)); }
	"$lab" --peer labyrinth --workload bulk0 --pages 4096 --batch 3000 --threads 2 \
		>"$tmp/big" 2>&1
	[ $? -eq 2 ] || { echo "FAIL: --batch beyond the pool: not a usage error"; fail=$((fail + 1)); }
	echo "smoke: overlap and options checked"
fi
[ "$runs" -gt 0 ] && [ $fail -eq 0 ]
