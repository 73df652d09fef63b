#!/usr/bin/env bash
# build-pg.sh: build PostgreSQL 15 with assertions (--enable-cassert) from
# Debian's postgresql-15 source package, into a prefix of its own.
#
#   bash test/sanitize/build-pg.sh [PREFIX]
#
# Run as root on Debian 12.  PREFIX defaults to $PM_CASSERT_PREFIX or
# /opt/pool_monitor-pg15-cassert.  The build is done once: when PREFIX holds
# a finished build (its stamp file), nothing is done; PM_CASSERT_REBUILD=1
# forces a new build.  The system PostgreSQL (/usr/lib/postgresql/15) is not
# touched.
#
# Steps: add a deb-src entry mirroring the deb entries already configured
# (a file of our own in /etc/apt/sources.list.d, written only if missing),
# install the few packages a minimal configure needs (not `apt-get
# build-dep`, which pulls in docs, LLVM, ICU, Kerberos...), fetch the
# source package with `apt-get source` (which applies Debian's patches),
# then configure, build with make -j2 and install, including the TAP
# modules (PostgreSQL::Test::Cluster) and pg_regress into PREFIX's PGXS.
set -euo pipefail

prefix=${1:-${PM_CASSERT_PREFIX:-/opt/pool_monitor-pg15-cassert}}
stamp=$prefix/.pool_monitor-build
jobs=${PM_CASSERT_JOBS:-2}
src_list=/etc/apt/sources.list.d/pool_monitor-deb-src.sources

# A finished build whose server files all live in the prefix is reused.
under_prefix() {
    local dir
    for dir in "$@"; do
        case "$dir" in
            "$prefix"/*) ;;
            *) echo "not under $prefix: $dir" >&2; return 1 ;;
        esac
    done
}
if [ -f "$stamp" ] && [ "${PM_CASSERT_REBUILD:-0}" != 1 ] &&
    under_prefix "$("$prefix/bin/pg_config" --pkglibdir)"; then
    echo "cassert PostgreSQL already built in $prefix ($(cat "$stamp"))"
    exit 0
fi

# A deb-src entry for every deb entry of Debian's own deb822 file (same
# mirror, same suites).  Written once; apt-get update only when we wrote it
# or when the source index is missing.
add_deb_src() {
    local src=/etc/apt/sources.list.d/debian.sources
    if [ -f "$src_list" ]; then
        return 1
    fi
    if [ -f "$src" ]; then
        sed -n 's/^Types:.*\bdeb\b.*/Types: deb-src/; /^#/d; p' "$src" > "$src_list.tmp"
    elif [ -f /etc/apt/sources.list ]; then
        # one-line format: turn each "deb URI suite comp" into a deb-src line
        local list=${src_list%.sources}.list
        sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list > "$list"
        echo "# see ${list}" > "$src_list.tmp"
    else
        echo "no Debian apt source found to mirror" >&2
        exit 1
    fi
    mv "$src_list.tmp" "$src_list"
    return 0
}

need=(dpkg-dev bison flex build-essential libreadline-dev zlib1g-dev
      libipc-run-perl pkg-config)
missing=()
for pkg in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
        || missing+=("$pkg")
done
updated=0
if add_deb_src || [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    updated=1
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

build=$(mktemp -d /var/tmp/pool_monitor-pg15-build.XXXXXX)
trap 'rm -rf "$build"' EXIT
cd "$build"
# The newest source version first (the one matching the installed server,
# normally), then older ones: a mirror may lack a version's source files
# (this one serves bookworm-security's binaries but not its sources).
fetch_source() {
    local v
    for v in $(apt-cache showsrc postgresql-15 | sed -n 's/^Version: //p' | sort -rVu); do
        if apt-get source -qq "postgresql-15=$v" >/dev/null 2>>apt-source.err; then
            return 0
        fi
        echo "source of postgresql-15 $v not available, trying an older one" >&2
        rm -rf postgresql-15[-_]*
    done
    return 1
}
if ! fetch_source; then
    # the source index may be stale or absent (a deb-src file left by an
    # earlier run on a machine whose lists were cleaned): update once, retry
    if [ "$updated" = 1 ] || ! { apt-get update -qq && fetch_source; }; then
        cat apt-source.err >&2
        exit 1
    fi
fi
srcdir=$(find . -maxdepth 1 -type d -name 'postgresql-15-*' | head -1)
debver=$(cd "$srcdir" && dpkg-parsechangelog -S Version)
echo "Building PostgreSQL from Debian source postgresql-15 $debver into $prefix"

cd "$srcdir"
# Debian's 50-per-version-dirs.patch hard-codes pkglibdir as
# /usr/lib/postgresql/15/lib, whatever the prefix: installing would then
# overwrite the system server's modules and PGXS.  Keep Debian's layout,
# but under our prefix.
sed -i 's|^override pkglibdir := /usr/lib/postgresql/|override pkglibdir := $(libdir)/postgresql/|' \
    src/Makefile.global.in
./configure --prefix="$prefix" --enable-cassert --enable-debug \
    --enable-tap-tests --without-icu --with-readline --with-zlib \
    >configure.log 2>&1 || { tail -50 configure.log; exit 1; }
# Refuse to install anything outside the prefix: every installation
# directory make knows, and every path configure compiles in.
dirs=$(printf '%s\n' 'top_builddir = .' 'include src/Makefile.global' 'show:' \
    '	@echo $(bindir) $(libdir) $(pkglibdir) $(pgxsdir) $(datadir) $(includedir) $(includedir_server) $(sysconfdir) $(docdir) $(mandir) $(localedir)' |
    make -s -f - show)
[ "$(echo $dirs | wc -w)" = 11 ] || { echo "cannot read the installation directories: $dirs" >&2; exit 1; }
under_prefix $dirs
make -s -C src/port pg_config_paths.h
paths=$(sed -n 's/^#define [A-Z_]* "\(.*\)"$/\1/p' src/port/pg_config_paths.h)
[ "$(echo $paths | wc -w)" -ge 10 ] || { echo "cannot read pg_config_paths.h" >&2; exit 1; }
under_prefix $paths
make -s -j"$jobs" >make.log 2>&1 || { tail -50 make.log; exit 1; }
rm -rf "$prefix"
make -s install >install.log 2>&1 || { tail -50 install.log; exit 1; }
make -s -C src/test/perl install >/dev/null
echo "postgresql-15 $debver, --enable-cassert, built $(date -u +%FT%TZ)" > "$stamp"
echo "Done: $(cat "$stamp")"
