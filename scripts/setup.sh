#!/bin/sh
# SPDX-License-Identifier: MIT
# Make sure the tools labyrinth needs are installed (Debian 12).
#
# Idempotent and quick when everything is there (one dpkg-query, no apt).
# As root it installs what is missing with apt-get (apt-get update only then).
# As another user it lists what is missing: missing required packages fail,
# missing optional ones (for later benchmarks and checks) only warn.
#
# Environment:
#   LAB_SKIP_SETUP=1     do nothing
#   LAB_SETUP_OPTIONAL=0 do not install the optional packages
set -eu

[ "${LAB_SKIP_SETUP:-0}" = 1 ] && exit 0

# Build and test: compilers (C and C++ for the header test), CMake, pkg-config,
# binutils (ld -r, nm, readelf), libc (libc.a for the static consumer test),
# clang's sanitizer runtimes (make test-asan / test-tsan).
# The labyrinth command: libpng-dev (map's PNG), gnuplot-nox (bench --png, make run),
# jq (the CLI tests parse the JSON).
# The peers of labyrinth bench (ck, jemalloc, mimalloc, tcmalloc), the model
# checker (spin, for the model_spin test) and clang-format (CI's format-check).
required="gcc g++ clang cmake make pkg-config libc6-dev binutils libclang-rt-14-dev
libpng-dev gnuplot-nox jq libck-dev libjemalloc-dev libmimalloc-dev
libgoogle-perftools-dev spin clang-format valgrind"
optional="libstb-dev"

say()
{
	echo "setup: $*"
}

if ! command -v dpkg-query >/dev/null 2>&1; then
	# Not Debian: check the commands only.
	miss=
	for c in cc cmake make pkg-config ld nm; do
		command -v "$c" >/dev/null 2>&1 || miss="$miss $c"
	done
	if [ -n "$miss" ]; then
		say "not a Debian system; missing commands:$miss" >&2
		exit 1
	fi
	exit 0
fi

# One dpkg-query for all of them; packages it does not know are missing.
# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $required $optional 2>/dev/null |
	awk '$1 == "ii" { sub(/:.*/, "", $2); print $2 }') || true

missing()
{
	out=
	# shellcheck disable=SC2086
	for p in "$@"; do
		case " $(printf '%s ' $installed) " in
		*" $p "*) ;;
		*) out="$out $p" ;;
		esac
	done
	echo "$out"
}

# shellcheck disable=SC2086
miss_req=$(missing $required)
# shellcheck disable=SC2086
miss_opt=$(missing $optional)
[ "${LAB_SETUP_OPTIONAL:-1}" = 0 ] && miss_opt=

[ -z "$miss_req$miss_opt" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	if [ -n "$miss_req" ]; then
		say "missing required packages:$miss_req" >&2
		[ -n "$miss_opt" ] && say "missing optional packages:$miss_opt" >&2
		say "install them with: sudo apt-get install$miss_req$miss_opt" >&2
		exit 1
	fi
	say "missing optional packages (benchmarks against peers, plots):$miss_opt"
	say "install them with: sudo apt-get install$miss_opt"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt="apt-get -y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Use-Pty=0"

# Optional packages are tried once per missing set; a machine without network
# should not retry (and wait) on every make.
stamp=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/labyrinth-setup-optional
if [ -z "$miss_req" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$miss_opt" ]; then
	exit 0
fi

say "installing:$miss_req$miss_opt"
if ! $apt update >/dev/null; then
	say "apt-get update failed" >&2
	[ -n "$miss_req" ] && exit 1
fi
if [ -n "$miss_req" ]; then
	# shellcheck disable=SC2086
	$apt install --no-install-recommends $miss_req || {
		say "could not install required packages:$miss_req" >&2
		exit 1
	}
fi
if [ -n "$miss_opt" ]; then
	# shellcheck disable=SC2086
	if ! $apt install --no-install-recommends $miss_opt; then
		# One unavailable package fails the lot: take the others one by one.
		for p in $miss_opt; do
			$apt install --no-install-recommends "$p" >/dev/null 2>&1 ||
				say "optional package $p could not be installed; continuing" >&2
		done
	fi
	# shellcheck disable=SC2086
	installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $optional 2>/dev/null |
		awk '$1 == "ii" { sub(/:.*/, "", $2); print $2 }') || true
	# shellcheck disable=SC2086
	left=$(missing $optional)
	if [ -n "$left" ]; then
		{ mkdir -p "$(dirname "$stamp")" && echo "$left" >"$stamp"; } 2>/dev/null || true
	fi
fi
say "done"
