#!/bin/sh
# SPDX-License-Identifier: MIT
# The figures of docs/BENCHMARKS.md, each command exactly as the document
# quotes it (plus where its outputs go):
#   sh bench/figures.sh BUILD_DIR OUT_DIR [NAME...]
# NAME: scale, size, scan, peers (default: all four). Each writes
# OUT_DIR/NAME.{txt,csv,json,png}. With FIGURES_REPEAT=N (N > 1) each
# command runs N times (OUT_DIR/NAME.K.*, NAME.png the last one's plot) and
# OUT_DIR/NAME.txt is the combined table: per row the median over the
# invocations where it was ok of its median, Mops/s, ratio and scale (each
# ratio and scale taken within one invocation). Exit status 1 if any failed.
set -u
build=${1:?usage: figures.sh BUILD_DIR OUT_DIR [NAME...]}
out=${2:?usage: figures.sh BUILD_DIR OUT_DIR [NAME...]}
shift 2
[ $# -gt 0 ] || set -- scale size scan peers
repeat=${FIGURES_REPEAT:-1}
mkdir -p "$out" || exit 1
st=0

# combine CSV...: the median over the files of each ok row's columns 5 (median),
# 7 (Mops/s), 8 (ratio), 16 (scale); and in how many files the row was ok
# (none: its last status, na or invalid)
combine()
{
	awk -F, '
	function med(s,   v, n, i, j, t) {
		n = split(s, v, " ")
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
				t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
			}
		if (n == 0) return "-"
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	function num(x) { return x == "-" ? "-" : sprintf(x + 0 >= 100 ? "%.1f" : "%.3g", x) }
	function rooms(x) {
		if (x % 1048576 == 0) return (x / 1048576) "M"
		return x % 1024 == 0 ? (x / 1024) "k" : x
	}
	FNR == 1 { files++; next }
	{
		k = $1 SUBSEP $2 SUBSEP $14 SUBSEP $3 SUBSEP $4
		if (!(k in unit)) { order[++nk] = k; unit[k] = $6 }
		if ($9 != "ok") { last[k] = $9; next }
		n[k]++
		m[k] = m[k] " " $5
		if ($7 != "") o[k] = o[k] " " $7
		if ($8 != "") r[k] = r[k] " " $8
		if ($16 != "") s[k] = s[k] " " $16
	}
	END {
		printf "median over %d invocations of each row (ok: in how many it was ok)\n", files
		printf "%-13s %3s %9s %-17s %-10s %9s %-4s %9s %6s %6s  %s\n", "workload", "thr",
			"rooms", "peer", "metric", "median", "unit", "Mops/s", "ratio", "scale", "status"
		for (i = 1; i <= nk; i++) {
			split(order[i], f, SUBSEP)
			k = order[i]
			if (f[5] == "throughput") continue
			printf "%-13s %3s %9s %-17s %-10s %9s %-4s %9s %6s %6s  %s\n", f[1], f[2], rooms(f[3]),
				f[4], f[5], num(med(m[k])), unit[k], num(med(o[k])), num(med(r[k])),
				num(med(s[k])), n[k] ? sprintf("ok %d/%d", n[k], files) : last[k]
		}
	}' "$@"
}

# figure NAME ARGS...: `labyrinth bench ARGS`, FIGURES_REPEAT times, with its tables and files
figure()
{
	name=$1
	shift
	k=1
	csvs=
	while [ "$k" -le "$repeat" ]; do
		tag=$name
		[ "$repeat" -gt 1 ] && tag=$name.$k
		echo "== $tag: labyrinth bench $* ($(uptime | sed 's/.*load/load/'))"
		"$build/labyrinth" bench "$@" --csv "$out/$tag.csv" --json "$out/$tag.json" \
			--png "$out/$tag.png" >"$out/$tag.txt" || st=1
		cat "$out/$tag.txt"
		echo
		csvs="$csvs $out/$tag.csv"
		k=$((k + 1))
	done
	if [ "$repeat" -gt 1 ]; then
		# shellcheck disable=SC2086 # the paths have no blanks
		combine $csvs >"$out/$name.txt"
		cp "$out/$tag.png" "$out/$name.png"
		echo "== $name: labyrinth bench $*"
		cat "$out/$name.txt"
		echo
	fi
}

for f in "$@"; do
	case $f in
	# how does it scale? two threads each allocating 1M rooms of a 4M maze, ...
	scale) figure scale -w scale -p labyrinth,labyrinth-shared,scan --pages 4M --batch 1M ;;
	# what does maze size cost? one thread fills pools of 2^16 ... 2^28 rooms
	size) figure size -w size -p labyrinth,labyrinth-shared,scan --runs 3 ;;
	# how close to the scan? the hot pair, order 9, the last free room, ...
	scan) figure scan -w pairs,bulk9,nearfull,handoff,signal,fragment \
		-p labyrinth,labyrinth-shared,labyrinth-note,scan --runs 7 ;;
	# against other allocators: every peer, every workload
	peers) figure peers --runs 3 ;;
	*)
		echo "figures.sh: no figure '$f' (scale, size, scan, peers)" >&2
		st=2
		;;
	esac
done
exit $st
