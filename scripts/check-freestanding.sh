#!/bin/sh
# SPDX-License-Identifier: MIT
# Prove that the core builds freestanding: compile src/core/*.c with
# -ffreestanding -fno-builtin -nostdlib and only the compiler's own headers
# (stdatomic.h, stdint.h, stddef.h, stdbool.h; no libc headers), link the
# objects into one relocatable object with `ld -r`, and fail if `nm -u` lists
# any undefined symbol (memset, __atomic_*, __stack_chk_fail, ...).
#
# usage: scripts/check-freestanding.sh [SRCDIR] [COMPILERS...]
#   COMPILERS defaults to "gcc clang" (those installed; at least one required).
#   LAB_FREESTANDING_CFLAGS adds flags; LAB_WERROR=ON adds -Werror.
set -eu

srcdir=${1:-.}
[ $# -gt 0 ] && shift
compilers=${*:-gcc clang}

set -- "$srcdir"/src/core/*.c
if [ ! -e "$1" ]; then
	echo "check-freestanding: no sources in $srcdir/src/core/" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab-freestanding.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

werror=
case "${LAB_WERROR:-OFF}" in
ON | on | 1 | TRUE | true | YES | yes) werror=-Werror ;;
esac

ran=0
fail=0
for cc in $compilers; do
	if ! command -v "$cc" >/dev/null 2>&1; then
		echo "check-freestanding: $cc not installed, skipped"
		continue
	fi
	ran=$((ran + 1))
	# The compiler's own header directory, without libc's.
	case "$("$cc" --version 2>/dev/null | head -n 1)" in
	*clang*) cinc="$("$cc" -print-resource-dir)/include" ;;
	*) cinc=$("$cc" -print-file-name=include) ;;
	esac
	mkdir -p "$tmp/$cc"
	objs=
	for src in "$@"; do
		obj="$tmp/$cc/$(basename "$src" .c).o"
		# shellcheck disable=SC2086
		if ! "$cc" -std=c11 -ffreestanding -fno-builtin -nostdlib -nostdinc \
			-isystem "$cinc" -O2 -fno-stack-protector -fno-pic \
			-Wall -Wextra -Wpedantic $werror \
			-I"$srcdir/src/core" -I"$srcdir/src" -I"$srcdir/include" \
			${LAB_FREESTANDING_CFLAGS:-} -c "$src" -o "$obj"; then
			echo "check-freestanding: $cc: $src does not compile freestanding" >&2
			fail=1
			continue 2
		fi
		objs="$objs $obj"
	done
	# shellcheck disable=SC2086
	ld -r -o "$tmp/$cc.core.o" $objs
	undef=$(nm -u "$tmp/$cc.core.o")
	if [ -n "$undef" ]; then
		echo "check-freestanding: $cc: undefined symbols in the core:" >&2
		echo "$undef" >&2
		fail=1
	else
		n=$(echo "$@" | wc -w)
		echo "check-freestanding: $cc: OK ($n files, no undefined symbols)"
	fi
done

if [ "$ran" -eq 0 ]; then
	echo "check-freestanding: none of [$compilers] is installed" >&2
	exit 1
fi
exit $fail
