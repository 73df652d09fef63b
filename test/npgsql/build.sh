#!/usr/bin/env bash
# build.sh: restore and build the orders API and the load driver that
# pool_monitor's Npgsql tests run (test/t/060_npgsql*.pl), from NuGet,
# into OUT (default test/npgsql/out).  Prints OUT's path on success.
#
# Packages go to a cache outside the tree: NUGET_PACKAGES, default
# /var/cache/pool_monitor/nuget if this user may write there, else
# /tmp/pool_monitor-nuget-$USER.  Nothing a restore or build writes is
# kept in the tree (bin/, obj/ and out/ are in .gitignore).  Builds again
# only when a source file or this script is newer than OUT's stamp.
#
# Exits 2, saying why, when the .NET SDK is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out}

if ! command -v dotnet >/dev/null 2>&1; then
    echo "the .NET SDK (dotnet) is not installed" >&2
    exit 2
fi
cache=/var/cache/pool_monitor
if [ -z "${NUGET_PACKAGES:-}" ]; then
    if [ -w "$cache/nuget" ] || { [ -w "$cache" ] && mkdir -p "$cache/nuget"; }; then
        NUGET_PACKAGES=$cache/nuget
    else
        NUGET_PACKAGES=/tmp/pool_monitor-nuget-$(id -un)
    fi
fi
export NUGET_PACKAGES
export DOTNET_CLI_HOME=${DOTNET_CLI_HOME:-$NUGET_PACKAGES/.dotnet-home}
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE=1 DOTNET_CLI_USE_MSBUILD_SERVER=0
mkdir -p "$NUGET_PACKAGES" "$DOTNET_CLI_HOME"

stamp=$out/.built
if [ -f "$stamp" ] && [ -z "$(find "$here" -path "$out" -prune -o \
        \( -name bin -o -name obj \) -prune -o -type f -newer "$stamp" -print)" ]; then
    echo "$out"
    exit 0
fi
rm -rf "$out"
for project in OrdersApi LoadDriver; do
    dotnet publish "$here/$project/$project.csproj" -c Release -o "$out/$project" \
        --nologo -v quiet -p:UseAppHost=false >&2
done
touch "$stamp"
echo "$out"
