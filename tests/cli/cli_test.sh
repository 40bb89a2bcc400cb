#!/bin/sh
# CLI tests: sh cli_test.sh MODE LABYRINTH CHECKER
#   args   --help of every subcommand, --version, errors for bad arguments
#   map    map writes a PNG that decodes to the size it announced; --ansi; stats
#   bench  every workload and peer at tiny sizes; CSV, JSON (jq) and PNG outputs
set -u
mode=$1 lab=$2 check=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab-cli-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
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
	for sub in bench map stats; do
		expect 0 $sub --help
		grep -q "usage: labyrinth $sub" "$tmp/out" || fail "$sub --help has no usage line"
		expect 0 $sub -h
		expect 2 $sub --no-such-option
		grep -q "unknown option '--no-such-option'" "$tmp/err" || fail "$sub: $(cat "$tmp/err")"
		expect 2 $sub stray-argument
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
		--csv "$tmp/b.csv" --json "$tmp/b.json" $png >"$tmp/out" 2>"$tmp/err"
	rc=$?
	cat "$tmp/out"
	[ $rc -eq 0 ] || fail "bench exited $rc: $(cat "$tmp/err")"
	[ -s "$tmp/err" ] && fail "bench wrote to stderr without a TTY: $(head -c 300 "$tmp/err")"
	"$check" csv "$tmp/b.csv" 14 || fail "CSV does not parse"
	for w in bulk0 bulk9 pairs churn10 churn99 handoff nearfull signal fragment; do
		grep -q "^$w,.*,labyrinth,.*,ok," "$tmp/b.csv" || fail "no ok labyrinth row for $w"
	done
	grep -q ',error,' "$tmp/b.csv" && fail "error rows: $(grep ',error,' "$tmp/b.csv")"
	if command -v jq >/dev/null 2>&1; then
		jq -e 'type == "array" and length > 0 and
			all(.[]; (.workload | type) == "string" and (.threads | type) == "number"
			and (.status == "ok" or .status == "na" or .status == "error"))' \
			"$tmp/b.json" >/dev/null || fail "JSON does not parse or lacks fields"
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
*)
	echo "usage: cli_test.sh args|map|bench LABYRINTH CHECKER" >&2
	exit 2
	;;
esac
[ $fails -eq 0 ] && echo "cli_test $mode: ok" && exit 0
echo "cli_test $mode: $fails failure(s)" >&2
exit 1
