#!/usr/bin/env bash
# Runs the whole CityOS test suite on a fresh Debian machine with the .NET SDK.
# Usage: scripts/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Query]
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log=$(mktemp -t cityos-test.XXXXXX)
trap 'rm -f "$log"' EXIT

echo "== build"
dotnet build CityOS.slnx -c Release -nologo -v quiet -clp:ErrorsOnly

echo "== tests"
set +e
dotnet test CityOS.slnx -c Release --no-build -nologo -v quiet --logger "console;verbosity=minimal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line for the whole suite, summed over the test assemblies.
awk '/Failed:[[:space:]]+[0-9]+, Passed:/ {
       gsub(/,/, " ");
       for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
