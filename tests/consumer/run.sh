#!/bin/sh
# SPDX-License-Identifier: MIT
# ctest consumer_pkgconfig: install the build into a temporary prefix, then
# build tests/consumer/consumer.c against the *installed* copy
#   1. dynamically:  cc consumer.c $(pkg-config --cflags --libs labyrinth), rpath to libdir
#   2. statically:   liblabyrinth.a with -Wl,-Bstatic, from pkg-config --static
#   3. fully static: cc -static ... $(pkg-config --static --libs labyrinth) (not under sanitizers)
#   4. through CMake: find_package(labyrinth), labyrinth::labyrinth and ::labyrinth_static
# and run each; every one must print OK. consumer.c includes every public
# header and calls a function of each. The installed header set must equal
# the headers under include/.
#
# usage: run.sh SRCDIR BUILDDIR [CC] [CMAKE] [SANITIZE]
set -eu

srcdir=$1
builddir=$2
cc=${3:-cc}
cmake=${4:-cmake}
sanitize=${5:-}

sanflags=
if [ -n "$sanitize" ]; then
	sanflags="-fsanitize=$sanitize -fno-sanitize-recover=all -fno-omit-frame-pointer"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix
passed=0

fail()
{
	echo "consumer: FAIL: $*" >&2
	exit 1
}

step()
{
	echo "consumer: $*"
}

step "installing $builddir into $prefix"
"$cmake" --install "$builddir" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "cmake --install"; }

# The installed headers are exactly the public headers under include/.
want=$(cd "$srcdir/include" && find . -type f | sort)
have=$(cd "$prefix/include" && find . -type f | sort)
if [ "$want" != "$have" ]; then
	echo "consumer: include/ has:" >&2
	echo "$want" >&2
	echo "consumer: installed:" >&2
	echo "$have" >&2
	fail "the installed headers differ from include/"
fi
step "headers installed: $(echo "$have" | tr '\n' ' ')"

for f in lib/liblabyrinth.a lib/liblabyrinth.so \
	lib/liblabyrinth.so.0 lib/pkgconfig/labyrinth.pc lib/cmake/labyrinth/labyrinthConfig.cmake \
	lib/cmake/labyrinth/labyrinthConfigVersion.cmake lib/cmake/labyrinth/labyrinthTargets.cmake; do
	[ -e "$prefix/$f" ] || fail "not installed: $f"
done
if [ -x "$builddir/labyrinth" ] && [ ! -x "$prefix/bin/labyrinth" ]; then
	fail "not installed: bin/labyrinth"
fi
soname=$(readelf -d "$prefix/lib/liblabyrinth.so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = liblabyrinth.so.0 ] || fail "SONAME is '$soname', want liblabyrinth.so.0"

PKG_CONFIG_PATH=$prefix/lib/pkgconfig
export PKG_CONFIG_PATH
version=$(pkg-config --modversion labyrinth) || fail "pkg-config cannot find labyrinth"
step "pkg-config: labyrinth $version"
libdir=$(pkg-config --variable=libdir labyrinth)
[ "$libdir" = "$prefix/lib" ] || fail "pkg-config libdir is $libdir, want $prefix/lib"

cflags=$(pkg-config --cflags labyrinth)
libs=$(pkg-config --libs labyrinth)
scflags=$(pkg-config --static --cflags labyrinth)
slibs=$(pkg-config --static --libs labyrinth)

check_run()
{
	exe=$1
	out=$("$exe") || fail "$exe exited with $?"
	case "$out" in
	OK*) step "$(basename "$exe"): $out" ;;
	*) fail "$exe printed '$out'" ;;
	esac
	passed=$((passed + 1))
}

# 1. shared, found through the rpath
# shellcheck disable=SC2086
"$cc" $sanflags $cflags "$srcdir/tests/consumer/consumer.c" -o "$tmp/consumer_shared" $libs \
	-Wl,-rpath,"$libdir" || fail "shared link"
readelf -d "$tmp/consumer_shared" | grep -q 'NEEDED.*liblabyrinth\.so\.0' ||
	fail "consumer_shared does not need liblabyrinth.so.0"
check_run "$tmp/consumer_shared"
# ... and through LD_LIBRARY_PATH without an rpath
# shellcheck disable=SC2086
"$cc" $sanflags $cflags "$srcdir/tests/consumer/consumer.c" -o "$tmp/consumer_ldpath" $libs ||
	fail "shared link (no rpath)"
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} check_run "$tmp/consumer_ldpath"

# 2. liblabyrinth.a, libc dynamic
slibs_a=$(echo "$slibs" | sed 's/-llabyrinth/-Wl,-Bstatic -llabyrinth -Wl,-Bdynamic/')
# shellcheck disable=SC2086
"$cc" $sanflags $scflags "$srcdir/tests/consumer/consumer.c" \
	-o "$tmp/consumer_static" $slibs_a || fail "static link"
if readelf -d "$tmp/consumer_static" | grep -q 'NEEDED.*liblabyrinth'; then
	fail "consumer_static still needs liblabyrinth.so"
fi
check_run "$tmp/consumer_static"

# 3. fully static (sanitizer runtimes cannot be linked -static)
if [ -z "$sanitize" ]; then
	# shellcheck disable=SC2086
	"$cc" -static $scflags \
		"$srcdir/tests/consumer/consumer.c" -o "$tmp/consumer_fullstatic" $slibs ||
		fail "fully static link"
	check_run "$tmp/consumer_fullstatic"
fi

# 4. CMake package
step "find_package(labyrinth)"
"$cmake" -S "$srcdir/tests/consumer" -B "$tmp/cbuild" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$sanflags" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log" >&2; fail "cmake configure of the consumer"; }
"$cmake" --build "$tmp/cbuild" >>"$tmp/cmake.log" 2>&1 ||
	{ cat "$tmp/cmake.log" >&2; fail "cmake build of the consumer"; }
check_run "$tmp/cbuild/consumer_shared"
check_run "$tmp/cbuild/consumer_static"

echo "consumer: $passed passed, 0 failed"
