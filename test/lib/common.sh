# common.sh: shell helpers shared by test/run-all.sh and test/quickstart.sh:
# installing what is missing, and building and installing pool_monitor.
# Source it; it expects to run as root on Debian 12.  The PostgreSQL it
# builds against is PG_BIN's (default: Debian's packaged 15).

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
# NuGet's package cache for the Npgsql tests (test/npgsql/build.sh):
# outside the tree, kept between runs, written by the postgres user
PM_NUGET_CACHE=/var/cache/pool_monitor/nuget
# what building and running pool_monitor needs (quickstart.sh)
PM_PACKAGES="postgresql-15 postgresql-server-dev-15 build-essential"
# what the test suite needs besides: pgTAP, IPC::Run for the TAP tests,
# DBD::Pg for their load clients (test/perl/StatementLoad.pm), cmocka,
# clang for the fuzzers, and the exporter, Prometheus, Alertmanager and
# Chromium that the observability tests drive
PM_TEST_PACKAGES="postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
  libipc-run-perl libdbd-pg-perl libcmocka-dev clang libclang-rt-14-dev prometheus
  prometheus-postgres-exporter prometheus-alertmanager chromium valgrind"

# Install PM_PACKAGES and the packages named, those that are missing and
# only those: naming an installed package would upgrade it.
pm_install_packages() {
    local missing=() pkg
    for pkg in $PM_PACKAGES "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
            || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "Installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# The same, with everything the test suite needs.
pm_install_test_packages() {
    # shellcheck disable=SC2086
    pm_install_packages $PM_TEST_PACKAGES "$@"
    pm_nuget_cache_for_postgres
}

# Build with every warning an error, and install into PG_BIN's server.
pm_build_and_install() {
    make -s clean >/dev/null
    make -s PG_CONFIG="$PG_BIN/pg_config" WERROR=-Werror
    make -s PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
}

# Copy the tree (without .git) to a directory the postgres user owns:
# PostgreSQL refuses to run as root, and pg_regress writes into the tree.
pm_copy_tree_for_postgres() {
    local dest=$1
    rm -rf "$dest"
    mkdir -p "$dest"
    tar --exclude=.git -cf - . | tar -xf - -C "$dest"
    chown -R postgres:postgres "$dest"
    pm_nuget_cache_for_postgres
}

# Create NuGet's package cache for the postgres user, who builds the
# orders API in the Npgsql tests (without it, they use one under /tmp).
pm_nuget_cache_for_postgres() {
    mkdir -p "$PM_NUGET_CACHE"
    chown -R postgres:postgres "$PM_NUGET_CACHE"
}
