#!/bin/sh
# SPDX-License-Identifier: MIT
# The median over several `make bench-shared` invocations, each in its own
# directory (sharing.csv, sharing-handoff.csv, xproc-*.txt, recovery.txt):
#   sh bench/shared/combine.sh DIR1 DIR2 DIR3 ...
# Prints three tables: the runner rows (median of the per-invocation
# medians, ratio to labyrinth recomputed from them), lab-xproc (Mops/s and
# the ratio to threads) and lab-recovery (ms and its derived columns).
set -eu
[ $# -ge 1 ] || { echo "usage: combine.sh DIR..." >&2; exit 2; }

# median of the numbers on stdin, one per line (an awk program: $1 is awk's)
# shellcheck disable=SC2016
med='{ v[n++] = $1 } END {
	for (i = 1; i < n; i++) for (j = i; j > 0 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
	if (n == 0) print "-"; else if (n % 2) print v[int(n/2)]; else print (v[n/2-1] + v[n/2]) / 2 }'

echo "## runner rows: median over $# invocations of the per-invocation medians"
printf '%-10s %3s %-20s %-10s %10s %-4s %7s\n' workload thr peer metric median unit ratio
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for d in "$@"; do
	for f in "$d"/sharing.csv "$d"/sharing-handoff.csv; do
		[ -f "$f" ] && awk -F, 'NR > 1 && $9 == "ok" { print $1 "|" $2 "|" $3 "|" $4 "|" $6 "|" $5 }' "$f"
	done
done >"$tmp"
keys=$(cut -d'|' -f1-5 "$tmp" | awk '!seen[$0]++')
for k in $keys; do
	grep -F "$k|" "$tmp" | awk -F'|' '{ print $6 }' | awk "$med" | sed "s/^/$k|/"
done | awk -F'|' '
	{ w[NR] = $1; t[NR] = $2; p[NR] = $3; m[NR] = $4; u[NR] = $5; v[NR] = $6
	  if ($3 == "labyrinth") lab[$1 "|" $2 "|" $4] = $6 }
	END { for (i = 1; i <= NR; i++) {
		b = lab[w[i] "|" t[i] "|" m[i]]; r = "-"
		if (b > 0 && v[i] > 0)
			r = sprintf("%.2f", (u[i] == "ns" || u[i] == "us") ? v[i] / b : b / v[i])
		printf "%-10s %3s %-20s %-10s %10.4g %-4s %7s\n", w[i], t[i], p[i], m[i], v[i], u[i], r } }'

echo
echo "## lab-xproc: median over $# invocations of the per-invocation medians (Mops/s)"
for w in pairs churn50; do
	for mode in threads threads-shm procs; do
		v=$(for d in "$@"; do
			[ -f "$d/xproc-$w.txt" ] && awk -v w="$w" -v m="$mode" '$1 == w && $2 == m { print $4 }' "$d/xproc-$w.txt"
		done | awk "$med")
		echo "$w $mode $v"
	done
done | awk '{ v[NR] = $3; w[NR] = $1; m[NR] = $2; if ($2 == "threads") b[$1] = $3 }
	END { for (i = 1; i <= NR; i++) printf "%-10s %-12s %10s  ratio to threads %s\n", w[i], m[i], v[i],
		(b[w[i]] > 0 && v[i] != "-") ? sprintf("%.3f", v[i] / b[w[i]]) : "-" }'

echo
echo "## lab-recovery: median over $# invocations of the per-invocation medians"
printf '%-10s %6s %9s %9s %8s %9s %8s %8s %9s\n' case GiB rooms ms ms/GiB ms/Mroom "lib ms" again "open ms"
for d in "$@"; do
	[ -f "$d/recovery.txt" ] && awk '$1 == "TABLE" && $2 != "case" { print $2 "|" $3 "|" $4 "|" $5 "|" $8 "|" $9 "|" $10 }' "$d/recovery.txt"
done >"$tmp"
# shellcheck disable=SC2013 # keys have no blanks
for k in $(cut -d'|' -f1-3 "$tmp" | awk '!seen[$0]++'); do
	line="$k"
	for col in 4 5 6 7; do
		line="$line|$(grep -F "$k|" "$tmp" | cut -d'|' -f$col | grep -v '^-$' | awk "$med")"
	done
	echo "$line"
done | awk -F'|' '{ g = $2; r = $3 / 1e6
	printf "%-10s %6s %9s %9.3f %8.3f %9.3f %8.3f %8.3f %9s\n", $1, $2, $3, $4, $4 / g, $4 / r, $5, $6, $7 }'
