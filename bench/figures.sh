#!/bin/sh
# SPDX-License-Identifier: MIT
# The figures of docs/BENCHMARKS.md, each command exactly as the document
# quotes it (plus where its outputs go):
#   sh bench/figures.sh BUILD_DIR OUT_DIR [NAME...]
# NAME: scale, size, scan, peers (default: all four). Each writes
# OUT_DIR/NAME.{txt,csv,json,png}; the exit status is 1 if any failed.
set -u
build=${1:?usage: figures.sh BUILD_DIR OUT_DIR [NAME...]}
out=${2:?usage: figures.sh BUILD_DIR OUT_DIR [NAME...]}
shift 2
[ $# -gt 0 ] || set -- scale size scan peers
mkdir -p "$out" || exit 1
st=0

# figure NAME ARGS...: one `labyrinth bench ARGS` with its table and files
figure()
{
	name=$1
	shift
	echo "== $name: labyrinth bench $* ($(uptime | sed 's/.*load/load/'))"
	"$build/labyrinth" bench "$@" --csv "$out/$name.csv" --json "$out/$name.json" \
		--png "$out/$name.png" >"$out/$name.txt" || st=1
	cat "$out/$name.txt"
	echo
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
