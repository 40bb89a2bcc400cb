#!/bin/sh
# SPDX-License-Identifier: MIT
# CLI tests: sh cli_test.sh MODE LABYRINTH CHECKER [MKMAZE]
#   args   --help of every subcommand, --version, errors for bad arguments
#   map    map writes a PNG that decodes to the size it announced; --ansi; stats
#   file   check, recover, map and stats on file mazes made by MKMAZE (clean,
#          crashed, damaged, truncated, locked) and on a live shared maze
#   bench  every workload and peer at tiny sizes, the scale and size groups; CSV,
#          JSON (jq) and PNG outputs; overlap reported for every measured row
set -u
mode=$1 lab=$2 check=$3 mk=${4:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab-cli-test.XXXXXX")
shm=/lab-cli-test-$$
helper=
cleanup()
{
	[ -n "$helper" ] && kill "$helper" 2>/dev/null && wait "$helper" 2>/dev/null
	rm -f "/dev/shm$shm"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fails=0

fail()
{
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# expect STATUS CMD...: the exit status must be STATUS ('nz' = any non-zero);
# a non-zero status must come with a message on stderr.
expect()
{
	want=$1
	shift
	"$lab" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	case $want in
	nz) [ $got -ne 0 ] || fail "labyrinth $*: exit 0, expected an error" ;;
	*) [ $got -eq "$want" ] || fail "labyrinth $*: exit $got, expected $want" ;;
	esac
	if [ $got -ne 0 ] && ! [ -s "$tmp/err" ]; then
		fail "labyrinth $*: exit $got without a message on stderr"
	fi
	if [ $got -eq 0 ] && [ -s "$tmp/err" ]; then
		fail "labyrinth $*: exit 0 but wrote to stderr: $(head -c 200 "$tmp/err")"
	fi
}

case $mode in
args)
	expect 0 --help
	grep -q bench "$tmp/out" || fail "--help does not name bench"
	expect 0 --version
	grep -q '^labyrinth [0-9]*\.[0-9]*\.[0-9]*$' "$tmp/out" || fail "--version: $(cat "$tmp/out")"
	for sub in bench map stats check recover; do
		expect 0 $sub --help
		grep -q "usage: labyrinth $sub" "$tmp/out" || fail "$sub --help has no usage line"
		expect 0 $sub -h
		expect 2 $sub --no-such-option
		grep -q "unknown option '--no-such-option'" "$tmp/err" || fail "$sub: $(cat "$tmp/err")"
		expect 2 $sub one-file stray-argument
		grep -q "unexpected argument" "$tmp/err" || fail "$sub: $(cat "$tmp/err")"
	done
	expect 2 bench stray-argument
	for sub in check recover; do
		expect 2 $sub
		grep -q "which file" "$tmp/err" || fail "$sub without a file: $(cat "$tmp/err")"
	done
	for sub in map stats; do
		expect 2 $sub --shm /x some-file
		grep -q "not both" "$tmp/err" || fail "$sub FILE --shm: $(cat "$tmp/err")"
		expect 2 $sub --pages 64 some-file
		grep -q "do not apply" "$tmp/err" || fail "$sub --pages FILE: $(cat "$tmp/err")"
		expect 2 $sub --seed 3 --shm /x
		expect 2 $sub --shm ''
		expect 2 $sub --shm
		# a file that is not there: a failure, not a usage error
		expect 1 $sub "$tmp/no-such.lab"
		grep -q "ENOENT: no such file" "$tmp/err" || fail "$sub no file: $(cat "$tmp/err")"
	done
	expect 2
	expect 2 frobnicate
	grep -q "unknown subcommand 'frobnicate'" "$tmp/err" || fail "unknown subcommand: $(cat "$tmp/err")"
	expect 2 --frobnicate
	expect 2 bench --runs abc
	grep -q -- "--runs" "$tmp/err" || fail "bench --runs abc: $(cat "$tmp/err")"
	expect 2 bench --runs 0
	expect 2 bench --runs
	grep -q "needs a value" "$tmp/err" || fail "bench --runs: $(cat "$tmp/err")"
	expect 2 bench --threads 1,,2
	expect 2 bench --threads 1,x
	expect 2 bench --fill 100
	expect 2 bench --pages -5
	expect 2 bench --page-size 5000
	expect 2 bench --ops 10 --duration 1
	expect 2 bench --duration -1
	expect 2 bench --sizes 64k,x
	expect 2 bench --batch 0
	expect 2 bench --workload nosuch
	grep -q "unknown workload 'nosuch'" "$tmp/err" || fail "bench --workload nosuch: $(cat "$tmp/err")"
	expect 2 map --pages 0
	expect 2 map --pages 12abc
	expect 2 map --threads 65
	expect 2 map --workload nosuch
	expect 2 map --width 3
	expect 2 map --out ''
	expect 2 stats --seed x
	expect 2 stats --page-size 4095
	;;
map)
	expect 0 map --pages 3000 --threads 3 --seed 7 --out "$tmp/m.png"
	cat "$tmp/out"
	wh=$(sed -n 's/.*: \([0-9]*\) x \([0-9]*\) pixels.*/\1 \2/p' "$tmp/out")
	[ -n "$wh" ] || fail "map did not announce the image size"
	# shellcheck disable=SC2086
	set -- $wh
	[ "${1:-0}" -eq 528 ] || fail "map: width ${1:-?}, expected 512 rooms + 2 x 8 margin = 528"
	"$check" png "$tmp/m.png" "${1:-0}" "${2:-0}" || fail "map PNG does not decode to $wh"
	# many rooms: one pixel per row, --width rows per line
	expect 0 map --pages 2000000 --threads 2 --width 100 --workload fill --out "$tmp/big.png"
	"$check" png "$tmp/big.png" || fail "big map PNG does not decode"
	grep -q "100 rows" "$tmp/out" || fail "big map: $(cat "$tmp/out")"
	expect 0 map --pages 4096 --workload churn --ansi --width 32
	grep -q "$(printf '\033')\[48;2;" "$tmp/out" || fail "map --ansi printed no colours"
	grep -q "FREE .* OF 4096 PAGES" "$tmp/out" || fail "map --ansi has no caption"
	for w in fragment fill churn; do
		expect 0 stats --workload $w --pages 8192 --threads 4
		grep -q "^validate      ok" "$tmp/out" || fail "stats $w: $(cat "$tmp/out")"
		grep -q "^meta_bits " "$tmp/out" || fail "stats $w prints no metadata bits"
	done
	;;
bench)
	png=
	command -v gnuplot >/dev/null 2>&1 && png="--png $tmp/b.png"
	# shellcheck disable=SC2086
	"$lab" bench --quick --runs 1 --pages 1024 --ops 200 --fill 10,99 --pairs-threads 1,2 \
		-w all,scale,size --sizes 4k,16k \
		--csv "$tmp/b.csv" --json "$tmp/b.json" $png >"$tmp/out" 2>"$tmp/err"
	rc=$?
	cat "$tmp/out"
	[ $rc -eq 0 ] || fail "bench exited $rc: $(cat "$tmp/err")"
	[ -s "$tmp/err" ] && fail "bench wrote to stderr without a TTY: $(head -c 300 "$tmp/err")"
	"$check" csv "$tmp/b.csv" 18 || fail "CSV does not parse"
	for w in bulk0 bulk9 pairs churn10 churn99 handoff nearfull signal fragment \
		scale/bulk0 scale/pairs scale/churn50 scale/handoff size/bulk0; do
		# measured, every check passed; invalid: the machine was busy, not an error
		grep -Eq "^$w,.*,labyrinth,.*,(ok|invalid)," "$tmp/b.csv" ||
			fail "no measured labyrinth row for $w"
	done
	grep -q ',invalid,' "$tmp/b.csv" &&
		echo "note: $(grep -c ',invalid,' "$tmp/b.csv") rows invalid (a busy machine)"
	grep -q ',error,' "$tmp/b.csv" && fail "error rows: $(grep ',error,' "$tmp/b.csv")"
	# columns: 1 workload, 2 threads, 9 status, 14 pages, 15 overlap
	awk -F, 'NR > 1 && ($9 == "ok" || $9 == "invalid") &&
		!($15 ~ /^[0-9.]+$/ && $15 <= 100 && $14 ~ /^[0-9]+$/ && $14 > 0) { bad++ }
		END { exit bad > 0 }' "$tmp/b.csv" || fail "measured rows without overlap or pages"
	# a run counted with less than 90% overlap would be a wrong median
	awk -F, 'NR > 1 && $9 == "ok" && $15 < 90 { bad++ } END { exit bad > 0 }' "$tmp/b.csv" ||
		fail "ok rows with overlap below 90%: $(awk -F, '$9 == "ok" && $15 < 90' "$tmp/b.csv")"
	for s in 4096 16384; do
		grep -q "^size/bulk0,1,labyrinth,alloc,.*,$s," "$tmp/b.csv" ||
			fail "size/bulk0 has no labyrinth row at $s rooms"
	done
	# scale runs at 1 ... the CPUs this process may use
	if [ "$(nproc)" -ge 2 ]; then
		grep -q "^scale/pairs,2,labyrinth,pair," "$tmp/b.csv" ||
			fail "scale/pairs did not run at 2 threads"
	fi
	grep -q '^size/bulk0,.*,glibc,' "$tmp/b.csv" && fail "size ran an unbounded peer"
	if command -v jq >/dev/null 2>&1; then
		jq -e 'type == "array" and length > 0 and
			all(.[]; (.workload | type) == "string" and (.threads | type) == "number"
			and (.status == "ok" or .status == "invalid" or .status == "na" or .status == "error"))' \
			"$tmp/b.json" >/dev/null || fail "JSON does not parse or lacks fields"
		jq -e 'all(.[] | select(.status == "ok" or .status == "invalid");
			(.overlap | type) == "number" and
			(.overlaps | length) == (if .status == "ok" then .runs + .invalid_runs else .runs end))' \
			"$tmp/b.json" >/dev/null || fail "JSON rows without their runs' overlaps"
		jq -e 'all(.[] | select(.scaling != null); .scaling > 0 and (.threads > 1 or .scaling == 1))' \
			"$tmp/b.json" >/dev/null || fail "scale: a 1-thread row scales by other than 1"
		n_json=$(jq length "$tmp/b.json")
		n_csv=$(($(grep -c '' "$tmp/b.csv") - 1))
		[ "$n_json" = "$n_csv" ] || fail "JSON has $n_json rows, CSV $n_csv"
	else
		echo "jq missing: JSON not checked (apt install jq)"
	fi
	if [ -n "$png" ]; then
		"$check" png "$tmp/b.png" || fail "bench PNG does not decode"
	fi
	# a peer that does not exist
	expect 2 bench --peers nosuch --workload pairs
	grep -q "no peer 'nosuch'" "$tmp/err" || fail "bench --peers nosuch: $(cat "$tmp/err")"
	expect 0 bench --list
	grep -q "^peer labyrinth " "$tmp/out" || fail "bench --list: $(cat "$tmp/out")"
	;;
file)
	[ -x "$mk" ] || { echo "cli_test.sh file: no MKMAZE helper '$mk'" >&2; exit 2; }
	# has FILE REGEX: a line of FILE matches (grep's basic regex)
	has()
	{
		grep -q -- "$2" "$1" || fail "$3: no line '$2' in: $(head -c 1500 "$1")"
	}
	# fig NAME: a figure mkmaze printed
	fig()
	{
		sed -n "s/^$1 //p" "$tmp/mk"
	}
	# map_ok PNG WHAT: map announced a 528-pixel wide image that decodes to its size
	map_ok()
	{
		wh=$(sed -n 's/.*: \([0-9]*\) x \([0-9]*\) pixels.*/\1 \2/p' "$tmp/out")
		[ -n "$wh" ] || fail "$2: map did not announce the image size"
		# shellcheck disable=SC2086
		set -- "$1" "$2" $wh
		[ "${3:-0}" -eq 528 ] || fail "$2: width ${3:-?}, expected 512 rooms + 2 x 8 margin"
		"$check" png "$1" "${3:-0}" "${4:-0}" >/dev/null || fail "$2: PNG does not decode to $wh"
	}

	# die exit|kill FILE: mkmaze makes FILE and dies with it open (through an
	# inner shell, whose "Killed" goes to a file)
	die()
	{
		sh -c '"$@" >"$0"; exit $?' "$tmp/mk" "$mk" file "$2" 4096 "$1" 2>"$tmp/mkerr"
		st=$?
		case $1 in
		exit) [ $st -eq 0 ] || fail "mkmaze $1: exit $st: $(cat "$tmp/mkerr")" ;;
		kill) [ $st -eq 137 ] || fail "mkmaze $1: exit $st, expected SIGKILL (137)" ;;
		esac
	}

	# -- a file closed cleanly: sound; every block's owner is gone
	f=$tmp/clean.lab
	"$mk" file "$f" 4096 clean >"$tmp/mk" || fail "mkmaze file clean"
	alloc=$(fig allocated) excl=$(fig exclusive) blocks=$(fig blocks)
	[ "${alloc:-0}" -gt 1000 ] || fail "mkmaze allocated ${alloc:-nothing}"
	cp "$f" "$tmp/clean.copy"
	expect 0 check "$f"
	has "$tmp/out" "^closed        cleanly" "check clean"
	has "$tmp/out" "^kind          file, index-only" "check clean"
	has "$tmp/out" "^pages         4096$" "check clean"
	has "$tmp/out" "^free          $((4096 - alloc)) " "check clean"
	has "$tmp/out" "^allocated     $alloc ($excl exclusive), 2 owner thread(s)" "check clean"
	has "$tmp/out" "^orphans       $blocks block(s)" "check clean"
	has "$tmp/out" "^validate      ok" "check clean"
	has "$tmp/out" "^status        ok" "check clean"
	expect 0 check --json "$f"
	jq -e --argjson a "$alloc" --argjson b "$blocks" '.status == "ok" and .kind == "file" and
		.closed_cleanly == true and .pages == 4096 and .page_size == 4096 and
		.allocated == $a and .orphans == $b and .free + $a == 4096 and .owners == 2 and
		.validate == "ok" and .problem == ""' "$tmp/out" >/dev/null ||
		fail "check --json clean: $(cat "$tmp/out")"
	expect 0 stats "$f"
	has "$tmp/out" "^maze          file $f$" "stats FILE"
	has "$tmp/out" "^allocated     $alloc ($excl exclusive), 2 owner" "stats FILE"
	has "$tmp/out" "^validate      ok" "stats FILE"
	expect 0 map "$f" --out "$tmp/clean.png"
	has "$tmp/out" "file $f, 8 lines of 512 rooms; free $((4096 - alloc)) of 4096" "map FILE"
	map_ok "$tmp/clean.png" "map FILE"
	expect 0 map --ansi --width 32 "$f"
	has "$tmp/out" "^FREE $((4096 - alloc)) OF 4096 PAGES" "map --ansi FILE"
	cmp -s "$f" "$tmp/clean.copy" || fail "check, stats or map wrote to the file"

	# -- with room memory
	"$mk" file "$tmp/mem.lab" 1024 clean memory >"$tmp/mk" || fail "mkmaze file memory"
	expect 0 check "$tmp/mem.lab"
	has "$tmp/out" "^kind          file, with room memory" "check memory"
	has "$tmp/out" "^allocated     $(fig allocated) " "check memory"

	# -- locked by a live process: EBUSY for everyone
	"$mk" file "$tmp/held.lab" 1024 hold >"$tmp/mk" &
	helper=$!
	i=0
	while ! grep -q '^ready' "$tmp/mk" && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	for sub in check recover stats; do
		expect 1 $sub "$tmp/held.lab"
		has "$tmp/err" "EBUSY: open in another process (its lock is held)" "$sub of a locked file"
	done
	kill "$helper"
	wait "$helper" || fail "mkmaze hold exited $?"
	helper=
	expect 0 check "$tmp/held.lab"

	# -- a process that died with the file open: exit without detaching, SIGKILL
	for how in exit kill; do
		g=$tmp/$how.lab
		die $how "$g"
		alloc=$(fig allocated) blocks=$(fig blocks) excl=$(fig exclusive)
		expect 1 check "$g"
		has "$tmp/err" "not closed cleanly.*needs recovery.*labyrinth recover" "check $how"
		has "$tmp/out" "^closed        NOT cleanly" "check $how"
		has "$tmp/out" "^status        needs-recovery" "check $how"
		has "$tmp/out" "^allocated     $alloc " "check $how"
		expect 1 check --json "$g"
		jq -e '.status == "needs-recovery" and .closed_cleanly == false and
			(.problem | test("not closed cleanly"))' "$tmp/out" >/dev/null ||
			fail "check --json $how: $(cat "$tmp/out")"
		# read-only: stats and map still show it
		expect 0 stats "$g"
		has "$tmp/out" "^maze          file $g (not closed cleanly)" "stats $how"
		expect 0 map "$g" --out "$tmp/$how.png"
		map_ok "$tmp/$how.png" "map $how"
	done
	# recover: the dead threads' rooms come back; then the file is sound and empty
	expect 0 recover "$tmp/kill.lab"
	has "$tmp/out" "(it had not been closed cleanly)" "recover"
	has "$tmp/out" "^reclaimed     $alloc room(s)" "recover"
	has "$tmp/out" "^kept          0 room(s)" "recover"
	has "$tmp/out" "^free          4096 of 4096" "recover"
	has "$tmp/out" "^validate      ok" "recover"
	expect 0 check "$tmp/kill.lab"
	has "$tmp/out" "^allocated     0 (0 exclusive), 0 owner" "check after recover"
	# recover --keep: every block kept and listed (index, order, owner, exclusive)
	die kill "$tmp/keep.lab"
	alloc=$(fig allocated) blocks=$(fig blocks) excl=$(fig exclusive)
	expect 0 recover --keep "$tmp/keep.lab"
	has "$tmp/out" "^reclaimed     0 room(s)" "recover --keep"
	has "$tmp/out" "^kept          $alloc room(s) of gone owners kept, in $blocks block(s)" \
		"recover --keep"
	has "$tmp/out" "^orphans       $blocks block(s)" "recover --keep"
	has "$tmp/out" "^free          $((4096 - alloc)) of 4096" "recover --keep"
	sums=$(awk '/^  [0-9]/ { n++; r += 2 ^ $2; if ($4 == "yes") x += 2 ^ $2;
		if ($3 == 0) z++ } END { printf "%d %d %d %d", n, r, x, z }' "$tmp/out")
	[ "$sums" = "$blocks $alloc $excl 0" ] ||
		fail "recover --keep lists blocks/rooms/exclusive/ownerless '$sums', expected '$blocks $alloc $excl 0'"
	expect 0 check "$tmp/keep.lab"
	has "$tmp/out" "^allocated     $alloc ($excl exclusive)" "check after recover --keep"
	has "$tmp/out" "^orphans       $blocks block(s)" "check after recover --keep"

	# -- damage: each refused with a reason; check and recover leave the file as it was
	damage()
	{
		cp "$tmp/clean.copy" "$tmp/bad.lab"
		case $1 in
		magic) printf 'XXXX' | dd of="$tmp/bad.lab" bs=1 seek=0 conv=notrunc 2>/dev/null ;;
		truncated) truncate -s 100000 "$tmp/bad.lab" ;;
		short) truncate -s 1000 "$tmp/bad.lab" ;;
		empty) : >"$tmp/bad.lab" ;;
		header) printf '\377' | dd of="$tmp/bad.lab" bs=1 seek=16 conv=notrunc 2>/dev/null ;;
		esac
		cp "$tmp/bad.lab" "$tmp/bad.copy"
	}
	for d in "magic:not a maze: no labyrinth magic at the start" \
		"truncated:file is 100000 bytes, the header says [0-9][0-9]*\$" \
		"short:file is 1000 bytes, smaller than a header of 4096" "empty:not a maze: empty" \
		"header:checksum mismatch in the header"; do
		damage "${d%%:*}"
		expect 1 check "$tmp/bad.lab"
		has "$tmp/err" "cannot open $tmp/bad.lab: -EUCLEAN: ${d#*:}" "check ${d%%:*}"
		expect 1 check --json "$tmp/bad.lab"
		jq -e '.status == "error" and (.error | startswith("-EUCLEAN"))' "$tmp/out" \
			>/dev/null || fail "check --json ${d%%:*}: $(cat "$tmp/out")"
		expect 1 recover "$tmp/bad.lab"
		has "$tmp/err" "cannot open.*-EUCLEAN" "recover ${d%%:*}"
		expect 1 map "$tmp/bad.lab" --out "$tmp/bad.png"
		cmp -s "$tmp/bad.lab" "$tmp/bad.copy" || fail "a refused ${d%%:*} file was changed"
	done

	# -- a live shared maze: stats and map attach, look and detach
	"$mk" shm "$shm" 8192 >"$tmp/mk" &
	helper=$!
	i=0
	while ! grep -q '^ready' "$tmp/mk" && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	alloc=$(fig allocated) excl=$(fig exclusive)
	expect 0 stats --shm "$shm"
	has "$tmp/out" "^maze          shared maze $shm$" "stats --shm"
	has "$tmp/out" "^pages         8192$" "stats --shm"
	has "$tmp/out" "^allocated     $alloc ($excl exclusive), 2 owner thread(s)" "stats --shm"
	has "$tmp/out" "^orphans       0 block(s)" "stats --shm (its owners are alive)"
	has "$tmp/out" "^validate      ok" "stats --shm"
	expect 0 map --shm "$shm" --out "$tmp/shm.png"
	has "$tmp/out" "shared maze $shm, 16 lines of 512 rooms" "map --shm"
	map_ok "$tmp/shm.png" "map --shm"
	kill "$helper"
	wait "$helper" || fail "mkmaze shm exited $?"
	helper=
	[ -e "/dev/shm$shm" ] && fail "the shared maze $shm is still there"
	expect 1 stats --shm "$shm"
	has "$tmp/err" "cannot attach the shared maze $shm: -ENOENT" "stats --shm after unlink"
	;;
*)
	echo "usage: cli_test.sh args|map|file|bench LABYRINTH CHECKER [MKMAZE]" >&2
	exit 2
	;;
esac
[ $fails -eq 0 ] && echo "cli_test $mode: ok" && exit 0
echo "cli_test $mode: $fails failure(s)" >&2
exit 1
