#!/usr/bin/env bash
# Runs the whole CityOS test suite on a fresh Debian machine with the .NET SDK.
# Usage: scripts/test.sh [extra dotnet test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

echo "== build"
dotnet build CityOS.slnx -c Release -nologo -v quiet

echo "== tests"
status=0
dotnet test CityOS.slnx -c Release --no-build -nologo -v quiet --logger "console;verbosity=minimal" "$@" || status=$?
exit $status
