#!/usr/bin/env bash
# Measures CityOS the way the README's figures were made: a Release build of the server on a fresh store,
# the load generator (`cityos bench`) as a separate process, results written to a JSON file.
#
#   scripts/bench.sh sqlite   OUT.json [bench options…]   embedded SQLite in a temp data directory
#   scripts/bench.sh postgres OUT.json [bench options…]   a throwaway PostgreSQL + PostGIS (scripts/postgres.sh)
#                                                         run with fsync/synchronous_commit on (PG_DURABLE=1)
#
# Bench options go to `cityos bench` unchanged, e.g. --scenarios create,batch --duration 10. Everything
# listens on 127.0.0.1 only and is stopped (and its data removed) at the end.
set -euo pipefail

store=${1:?usage: bench.sh sqlite|postgres OUT.json [bench options…]}
out=${2:?usage: bench.sh sqlite|postgres OUT.json [bench options…]}
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/cityos-bench.XXXXXX)
# PostgreSQL runs as its own user, which must reach the cluster directory inside.
chmod 0755 "$work"
server=

cleanup() {
    [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    [[ "$store" == postgres ]] && "$root/scripts/postgres.sh" stop "$work/pg" || true
    rm -rf "$work"
}
trap cleanup EXIT

dotnet build -c Release "$root/src/CityOS.Server" -v q -nologo >/dev/null
bin="$root/src/CityOS.Server/bin/Release/net10.0/cityos"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

case "$store" in
    sqlite)
        args=(--data-dir "$work/data")
        ;;
    postgres)
        connection=$(PG_DURABLE=1 "$root/scripts/postgres.sh" start "$work/pg" | sed -n 's/^CITYOS_TEST_POSTGRES=//p' | tail -1)
        # The bench runs up to 32 requests in flight; the pool bound of the test settings is kept.
        args=(--store postgres --connection "$connection")
        ;;
    *)
        echo "bench.sh: store must be sqlite or postgres" >&2
        exit 2
        ;;
esac

"$bin" serve "${args[@]}" --urls "http://127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.2
done

echo "bench.sh: $store server pid $server on 127.0.0.1:$port; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$bin" bench --target "http://127.0.0.1:$port" --server-pid "$server" --out "$out" "$@"
