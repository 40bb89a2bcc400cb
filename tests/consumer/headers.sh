#!/bin/sh
# SPDX-License-Identifier: MIT
# ctest headers_cxx: the public headers compile as strict C11 under gcc and
# clang, and as C++ under g++ and clang++, with every warning an error.
#
# usage: headers.sh SRCDIR
set -eu

srcdir=${1:-.}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab-headers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# Each public header under include/ alone (it must be self-contained), then
# all of them together twice (include guards).
names=
all="$tmp/all.h.c"
: >"$all"
i=0
for h in $(cd "$srcdir/include" && find . -name '*.h' | sed 's|^\./||' | sort); do
	i=$((i + 1))
	printf '#include <%s>\n' "$h" >"$tmp/h$i.h.c"
	printf '#include <%s>\n' "$h" >>"$all"
	names="$names h$i"
done
[ "$i" -gt 0 ] || { echo "headers: no headers under $srcdir/include" >&2; exit 1; }
cat "$all" "$all" >"$tmp/all2.h.c"
mv "$tmp/all2.h.c" "$all"
names="$names all"
for f in $names; do cp "$tmp/$f.h.c" "$tmp/$f.h.cc"; done

# -Wshadow is C only: in C++ the function lab_stats() "hides" struct lab_stats,
# a name pair the API fixes.
warn="-Wall -Wextra -Wpedantic -Werror -Wundef"
ran=0
fails=0

try()
{
	tool=$1
	shift
	command -v "$tool" >/dev/null 2>&1 || { echo "headers: $tool not installed, skipped"; return 0; }
	for std in "$@"; do
		case $std in
		c*+*) files=$(for n in $names; do printf '%s ' "$tmp/$n.h.cc"; done); extra=-x\ c++ ;;
		*) files=$(for n in $names; do printf '%s ' "$tmp/$n.h.c"; done); extra="-Wstrict-prototypes -Wshadow" ;;
		esac
		for f in $files; do
			# shellcheck disable=SC2086
			if "$tool" -std="$std" $warn $extra -I"$srcdir/include" -fsyntax-only "$f"; then
				ran=$((ran + 1))
			else
				echo "headers: FAIL: $tool -std=$std $(basename "$f")" >&2
				fails=$((fails + 1))
			fi
		done
		echo "headers: $tool -std=$std"
	done
}

try gcc c11 c17
try clang c11 c17
try g++ c++11 c++17
try clang++ c++11 c++17

if [ "$ran" -eq 0 ] && [ "$fails" -eq 0 ]; then
	echo "headers: no compiler found" >&2
	exit 1
fi
echo "headers: $ran passed, $fails failed"
[ "$fails" -eq 0 ]
