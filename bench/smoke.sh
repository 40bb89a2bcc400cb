#!/bin/sh
# SPDX-License-Identifier: MIT
# Smoke test of the runners: every peer of every runner binary in BUILD_DIR,
# every workload, 1 and 2 threads, at tiny sizes. Each invocation must exit
# 0 and print only well-formed result lines with status ok or na.
#   sh bench/smoke.sh BUILD_DIR
set -u
dir=${1:?usage: smoke.sh BUILD_DIR}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
re='^result peer=[^ ]+ workload=[a-z0-9]+ metric=[a-z]+ value=[-+.0-9eE]+ unit=(ns|us|%|Mops) ops=[0-9]+ threads=[0-9]+ status=(ok|na) note=.*$'
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
[ "$runs" -gt 0 ] && [ $fail -eq 0 ]
