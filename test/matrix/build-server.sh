#!/usr/bin/env bash
# build-server.sh: build one PostgreSQL server from source into a cache
# outside the tree, once, and print its prefix.
#
#   bash test/matrix/build-server.sh MAJOR [cassert]
#
# MAJOR is 13 to 18.  Prints the installation prefix on the last line of
# standard output (everything else goes to standard error).  Exits 3 when
# the source for MAJOR is not on this machine (see below), so that the
# matrix can skip that version and say why.
#
# Where the source comes from:
#   13, 15, 18  Debian's source packages postgresql-13 (bullseye),
#               postgresql-15 (bookworm) and postgresql-18 (sid), fetched
#               with `apt-get source` through a private apt configuration
#               (its own sources list, lists and cache directories under the
#               cache), so that the machine's own apt sources are left as
#               they were; the newest version whose files the mirror serves,
#               downloaded once into the cache's sources/.  Debian's patches are applied, as in the servers
#               Debian and the PostgreSQL images ship.
#   14, 16, 17  the source trees in shared/postgres-src beside the
#               repository ($PM_PG_SRC_DIR to point elsewhere): 14.13, a
#               16 beta tree (commit 3f0199da5a, between 16beta1 and
#               16beta2) and 17.4.
#
# The cache is $PM_SERVER_CACHE (default /var/cache/pool_monitor/servers).
# Each build lands in a directory named for the version, the flavour
# (plain or cassert) and a key: a hash of the source's identity (Debian
# package version and .dsc checksum, or the tarball's sha256), the
# configure line, the pgTAP version and the recipe number below.  A
# changed source, configure line or build recipe therefore builds anew; an unchanged one is reused.  Older
# builds of the same version and flavour are removed once a new one is
# finished.
#
# The server is configured with --enable-debug --enable-tap-tests, without
# ICU (which 16 on want by default) so that the build needs only bison,
# flex, readline and zlib; `cassert` adds --enable-cassert.  contrib is not
# built; the TAP modules (PostgreSQL::Test::Cluster, or PostgresNode on 13)
# and pg_regress are installed into the prefix's PGXS.
set -euo pipefail

# The build recipe's number: raise it whenever a change to this script
# changes what a build installs, so that cached servers are built anew.
recipe=2

major=${1:?usage: build-server.sh MAJOR [cassert]}
flavour=${2:-plain}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${PM_SERVER_CACHE:-/var/cache/pool_monitor/servers}
src_dir=${PM_PG_SRC_DIR:-$repo/../shared/postgres-src}
jobs=${PM_BUILD_JOBS:-$(nproc)}

log() { echo "build-server: $*" >&2; }

case "$flavour" in
    plain) extra_configure="" ;;
    cassert) extra_configure="--enable-cassert" ;;
    *) log "unknown flavour '$flavour' (plain or cassert)"; exit 2 ;;
esac
configure_args="--enable-debug --enable-tap-tests --without-icu --with-readline --with-zlib $extra_configure"

need=(dpkg-dev bison flex build-essential libreadline-dev zlib1g-dev
      libipc-run-perl pkg-config)
install_build_packages() {
    local missing=() pkg
    for pkg in "${need[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
            || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# The private apt configuration: deb-src lines for the three suites, with
# lists and cache of its own.
apt_dir=$cache/apt
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
          -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
          -o "Dir::State::Lists=$apt_dir/lists"
          -o "Dir::Cache=$apt_dir/cache"
          -o "APT::Sandbox::User=root")
apt_setup() {
    local mirror
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d"
    # the machine's own Debian mirror, from its deb entries
    mirror=$(sed -n 's/^URIs: *\(.*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    [ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\/debian\) .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -1)
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    printf 'deb-src [signed-by=%s] %s %s main\n' \
        "$keyring" "$mirror" bullseye "$keyring" "$mirror" bookworm \
        "$keyring" "$mirror" sid > "$apt_dir/sources.list.new"
    if ! cmp -s "$apt_dir/sources.list.new" "$apt_dir/sources.list" ||
        [ -z "$(ls "$apt_dir/lists" | grep -v partial)" ] ||
        [ -n "$(find "$apt_dir/lists" -maxdepth 0 -mmin +720)" ]; then
        mv "$apt_dir/sources.list.new" "$apt_dir/sources.list"
        log "updating the private source index ($mirror)"
        apt-get "${apt_opts[@]}" update -qq >&2
        touch "$apt_dir/lists"
    else
        rm -f "$apt_dir/sources.list.new"
    fi
}

# Sets source_id (what the key hashes) and fetch (how to unpack it into
# the current directory as ./src).
case "$major" in
    13|15|18)
        package=postgresql-$major
        install_build_packages
        apt_setup
        # The newest version whose files the mirror serves (it may list a
        # version whose sources it lacks), downloaded once into the cache.
        downloads=$cache/sources
        mkdir -p "$downloads"
        version=
        for v in $(apt-cache "${apt_opts[@]}" showsrc "$package" | sed -n 's/^Version: //p' | sort -rVu); do
            if [ -f "$downloads/${package}_${v#*:}.ok" ] ||
                (cd "$downloads" && apt-get "${apt_opts[@]}" source --download-only -qq \
                    "$package=$v" >/dev/null 2>"$downloads/$package.err" &&
                    touch "${package}_${v#*:}.ok"); then
                version=$v
                break
            fi
            log "$package $v is listed but its source is not served; trying an older one"
        done
        if [ -z "$version" ]; then
            log "no version of source package $package could be downloaded:"
            cat "$downloads/$package.err" >&2
            exit 1
        fi
        dsc=$downloads/${package}_${version#*:}.dsc
        source_id="debian $package $version $(sha256sum "$dsc" | awk '{print $1}')"
        source_label="Debian source package $package $version"
        fetch() {
            dpkg-source --no-check -x "$dsc" src >&2 2>apt-source.log ||
                { cat apt-source.log >&2; return 1; }
        }
        ;;
    14|16|17)
        case "$major" in
            14) tarball=postgresql-14.13.tar.gz ;;
            16) tarball=postgresql-16beta-3f0199da5a.tar.gz ;;
            17) tarball=postgresql-17.4.tar.gz ;;
        esac
        if [ ! -f "$src_dir/$tarball" ]; then
            log "PostgreSQL $major: $src_dir/$tarball is not on this machine"
            exit 3
        fi
        install_build_packages
        tar_sum=$(sha256sum "$src_dir/$tarball" | awk '{print $1}')
        source_id="tarball $tarball $tar_sum"
        source_label="$tarball (sha256 ${tar_sum:0:12})"
        [ "$major" = 16 ] && source_label="$source_label, 16 (beta tree)"
        fetch() {
            mkdir src
            tar -xzf "$src_dir/$tarball" -C src --strip-components=1
        }
        ;;
    *)
        log "unsupported major version '$major' (13 to 18)"
        exit 2
        ;;
esac

# pgTAP goes into every server, from Debian's postgresql-15-pgtap (the
# mirror serves pgTAP's binary packages but not its source).  pgTAP is
# plain SQL, and its build patches that SQL only for servers older than
# 9.5, so the files built for 15 are the ones a build for 13 to 18 makes.
pgtap_package=postgresql-15-pgtap
need+=("$pgtap_package")
install_build_packages
pgtap_version=$(dpkg-query -W -f='${Version}' "$pgtap_package")
pgtap_files=$(dpkg -L "$pgtap_package" | grep '/extension/pgtap[^/]*\.\(sql\|control\)$')
[ -n "$pgtap_files" ] || { log "$pgtap_package installs no extension files"; exit 1; }

key=$(printf '%s\n%s\npgtap %s\nrecipe %s\n' "$source_id" "$configure_args" \
    "$pgtap_version" "$recipe" | sha256sum | cut -c1-12)
prefix=$cache/pg$major-$flavour-$key
stamp=$prefix/.pool_monitor-build

if [ -f "$stamp" ] && [ -x "$prefix/bin/postgres" ]; then
    log "PostgreSQL $major ($flavour) cached in $prefix: $(head -1 "$stamp")"
    echo "$prefix"
    exit 0
fi

# One build per prefix at a time.
mkdir -p "$cache"
exec 7>"$cache/.pg$major-$flavour.lock"
flock 7
if [ -f "$stamp" ]; then
    echo "$prefix"
    exit 0
fi

start=$SECONDS
build=$(mktemp -d /var/tmp/pool_monitor-pg$major-build.XXXXXX)
trap 'rm -rf "$build"' EXIT
cd "$build"
fetch
cd src
log "building PostgreSQL $major ($flavour) from $source_label into $prefix"

# Debian's 50-per-version-dirs.patch hard-codes pkglibdir as
# /usr/lib/postgresql/N/lib whatever the prefix: installing would overwrite
# a system server's modules.  Keep Debian's layout, under our prefix.
sed -i 's|^override pkglibdir := /usr/lib/postgresql/|override pkglibdir := $(libdir)/postgresql/|' \
    src/Makefile.global.in
# shellcheck disable=SC2086
./configure --prefix="$prefix" $configure_args >configure.log 2>&1 ||
    { tail -50 configure.log >&2; exit 1; }

# Refuse to install anything outside the prefix: every installation
# directory make knows, and every path configure compiles in.
under_prefix() {
    local dir
    for dir in "$@"; do
        case "$dir" in
            "$prefix"/*) ;;
            *) log "not under $prefix: $dir"; return 1 ;;
        esac
    done
}
dirs=$(printf '%s\n' 'top_builddir = .' 'include src/Makefile.global' 'show:' \
    '	@echo $(bindir) $(libdir) $(pkglibdir) $(pgxsdir) $(datadir) $(includedir) $(includedir_server) $(sysconfdir) $(docdir) $(mandir) $(localedir)' |
    make -s -f - show)
[ "$(echo $dirs | wc -w)" = 11 ] || { log "cannot read the installation directories: $dirs"; exit 1; }
under_prefix $dirs
make -s -C src/port pg_config_paths.h
paths=$(sed -n 's/^#define [A-Z_]* "\(.*\)"$/\1/p' src/port/pg_config_paths.h)
[ "$(echo $paths | wc -w)" -ge 10 ] || { log "cannot read pg_config_paths.h"; exit 1; }
under_prefix $paths

make -s -j"$jobs" >make.log 2>&1 || { tail -50 make.log >&2; exit 1; }
rm -rf "$prefix"
make -s install >install.log 2>&1 || { tail -50 install.log >&2; exit 1; }
make -s -C src/test/perl install >/dev/null
# pgbench drives several behaviour tests; it is in src/bin, built above.
# shellcheck disable=SC2086
install -m 644 $pgtap_files "$("$prefix/bin/pg_config" --sharedir)/extension/"
printf '%s, %s, configure %s, pgTAP %s, built %s in %d s\n' \
    "PostgreSQL $major ($flavour)" "$source_label" "$configure_args" "$pgtap_version" \
    "$(date -u +%FT%TZ)" $((SECONDS - start)) > "$stamp"
"$prefix/bin/postgres" --version >> "$stamp"

# Older builds of this version and flavour are stale now.
for old in "$cache"/pg"$major"-"$flavour"-*; do
    [ "$old" = "$prefix" ] || rm -rf "$old"
done
log "done: $(head -1 "$stamp")"
echo "$prefix"
