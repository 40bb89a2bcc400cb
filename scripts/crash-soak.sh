#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The crash tests at length; see mk/crash.mk. Prints each part's
# summary and keeps the output of any failure in out/crash-soak-failures.log
# (the seeds to replay are in it). Exit 1 on any failure.
#   scripts/crash-soak.sh BUILD_DIR [KILL_ROUNDS [PROCS_ROUNDS [API(0|1) [SEED]]]]
set -u
dir=${1:-build}
rounds=${2:-10000}
procs=${3:-300}
api=${4:-1}
seed=${5:-$(( (RANDOM << 32) ^ (RANDOM << 16) ^ RANDOM ))}
mkdir -p out
log=out/crash-soak-failures.log
: >"$log"
bad=0
start=$(date +%s)

quiet=0
run() { # name command...
	local name=$1
	shift
	local t0 out rc
	t0=$(date +%s)
	out=$("$@" 2>&1)
	rc=$?
	[ $quiet = 1 ] || printf '%s\n' "$out" | grep -v 'FAIL' | tail -2 | sed "s/^/[$name] /"
	if [ $rc -ne 0 ]; then
		bad=$((bad + 1))
		{
			echo "== $name rc=$rc: $*"
			printf '%s\n' "$out" | tail -60
		} >>"$log"
		echo "[$name] FAILED (rc $rc), see $log"
	fi
	[ $quiet = 1 ] || echo "[$name] $(($(date +%s) - t0)) s"
}

x=$dir/tests/test_xproc
c=$dir/tests/test_crash
echo "crash-soak: seed $seed"
run kill "$x" kill "$rounds" "$seed"
run procs "$x" procs "$procs" "$seed"
quiet=1
for i in $(seq 1 20); do
	run "give-$i" "$x" give $((seed + i))
	run "kernel-$i" "$x" kernel
done
quiet=0
echo "[give, kernel] 20 runs each"
if [ "$api" != 0 ]; then
	run api-shm env LAB_TEST_SEED="$seed" "$c" shm --full
	run api-file env LAB_TEST_SEED="$seed" "$c" file --full
fi
echo "crash-soak: $(($(date +%s) - start)) s, $bad failed parts"
[ $bad -eq 0 ]
