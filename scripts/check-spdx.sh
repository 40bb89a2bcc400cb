#!/bin/sh
# SPDX-License-Identifier: MIT
# Every file of the tree names its licence: "SPDX-License-Identifier: MIT"
# within its first three lines. Exempt: LICENSE itself and the binary fuzz
# inputs under tests/fuzz/corpus/ (data, not source). Lists every file that
# lacks the line and exits 1 if there is one.
#
# usage: scripts/check-spdx.sh [SRCDIR]
#   The files are those git tracks; outside a git checkout, every file under
#   SRCDIR except build and output directories.
set -eu

srcdir=${1:-.}
cd "$srcdir"

list_files() {
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files --cached --others --exclude-standard
	else
		find . -type f ! -path './.git/*' ! -path './build*' ! -path './out/*' |
			sed 's|^\./||'
	fi
}

bad=0
checked=0
tmp=$(mktemp "${TMPDIR:-/tmp}/lab-spdx.XXXXXX")
trap 'rm -f "$tmp"' EXIT INT TERM
list_files >"$tmp"
while IFS= read -r f; do
	case "$f" in
	LICENSE | tests/fuzz/corpus/*) continue ;;
	esac
	[ -f "$f" ] || continue
	checked=$((checked + 1))
	if ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
		echo "check-spdx: $f: no 'SPDX-License-Identifier: MIT' in its first 3 lines" >&2
		bad=$((bad + 1))
	fi
done <"$tmp"

if [ ! -f LICENSE ] || ! grep -q '^MIT License' LICENSE; then
	echo "check-spdx: LICENSE is missing or is not the MIT licence" >&2
	bad=$((bad + 1))
fi
if [ "$checked" -eq 0 ]; then
	echo "check-spdx: no files found under $srcdir" >&2
	exit 1
fi
if [ "$bad" -ne 0 ]; then
	echo "check-spdx: $bad of $checked files fail" >&2
	exit 1
fi
echo "check-spdx: all $checked files carry SPDX-License-Identifier: MIT"
