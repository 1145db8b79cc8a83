#!/usr/bin/env bash
# Runs the whole CityOS test suite on a fresh Debian machine with the .NET SDK.
# Usage: scripts/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Query]
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log=$(mktemp -t cityos-test.XXXXXX)
# A throwaway PostgreSQL/PostGIS server for tests/CityOS.Storage.Postgres.Tests, removed on any exit.
pgdir=$(mktemp -d -t cityos-pg.XXXXXX)
pgstart=
# A throwaway Mosquitto broker for the MQTT notification tests.
mqttdir=$(mktemp -d -t cityos-mqtt.XXXXXX)
# Waits for a start still running (a failed build exits early) so that no server outlives the run.
trap '[[ -n "$pgstart" ]] && wait "$pgstart" 2>/dev/null; scripts/postgres.sh stop "$pgdir" || true; scripts/mosquitto.sh stop "$mqttdir" || true; rm -f "$log" "$pgdir.out"' EXIT

# The server (and on a fresh machine its packages) comes up while the solution builds.
scripts/postgres.sh start "$pgdir" >"$pgdir.out" 2>&1 &
pgstart=$!

echo "== build"
dotnet build CityOS.slnx -c Release -nologo -v quiet -clp:ErrorsOnly

echo "== postgres"
if ! wait "$pgstart"; then
    cat "$pgdir.out" >&2
    echo "scripts/postgres.sh could not start the PostgreSQL test server" >&2
    exit 1
fi
pgstart=
export "$(grep '^CITYOS_TEST_POSTGRES=' "$pgdir.out")"
echo "test server: $CITYOS_TEST_POSTGRES"

echo "== mosquitto"
export "$(scripts/mosquitto.sh start "$mqttdir" | grep '^CITYOS_TEST_MQTT=')"
echo "test broker: $CITYOS_TEST_MQTT"

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
