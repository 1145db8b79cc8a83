#!/usr/bin/env bash
# A throwaway PostgreSQL + PostGIS server for the test suite.
#
#   scripts/postgres.sh install      installs PostgreSQL and PostGIS (Debian packages) when missing
#   scripts/postgres.sh start DIR    installs if needed, creates a cluster in DIR (which must be absent or
#                                    empty), starts it on a free 127.0.0.1 port with its unix socket in DIR,
#                                    creates database "cityos" with PostGIS, and prints
#                                    CITYOS_TEST_POSTGRES=<connection string> (also written to DIR/connection)
#   scripts/postgres.sh stop DIR     stops the server and removes DIR (no error when already gone)
#
# The cluster is tuned for tests, not for keeping data: fsync and synchronous_commit are off, so a machine
# crash loses it, which is fine for a directory removed at the end of the run anyway. With PG_DURABLE=1 it
# runs as production would (fsync, synchronous_commit and full_page_writes on, shared_buffers 256MB): the
# settings benchmark figures are measured with.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}

die() { echo "postgres.sh: $*" >&2; exit 1; }

bindir() {
    local d
    for d in "/usr/lib/postgresql/$PG_MAJOR/bin" /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
    done
    return 1
}

# PostGIS is present when the control file of the extension sits beside the server's other extensions.
has_postgis() {
    local bin share
    bin=$(bindir) || return 1
    share=$("$bin/pg_config" --sharedir 2>/dev/null) || share="/usr/share/postgresql/$PG_MAJOR"
    [[ -f "$share/extension/postgis.control" ]]
}

install() {
    if bindir >/dev/null && has_postgis; then
        return 0
    fi
    [[ $(id -u) -eq 0 ]] || die "PostgreSQL/PostGIS missing and not root: install postgresql-$PG_MAJOR-postgis-3"
    command -v apt-get >/dev/null || die "PostgreSQL/PostGIS missing and no apt-get: install PostgreSQL $PG_MAJOR with PostGIS 3"
    echo "postgres.sh: installing PostgreSQL $PG_MAJOR and PostGIS (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # The versioned package pulls the matching server; fall back to the unversioned meta-packages.
    apt-get install -y -qq --no-install-recommends "postgresql-$PG_MAJOR-postgis-3" >&2 \
        || apt-get install -y -qq postgresql postgis >&2
    bindir >/dev/null && has_postgis || die "installation finished but initdb/PostGIS are still missing"
}

# Runs a command as the cluster's owner: initdb and postgres refuse to run as root.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
        # runuser keeps the environment small and needs no PAM session (unlike su -).
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    # Ask the kernel for a free port by binding port 0; the tiny race until postgres binds it is retried below.
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
        || echo $(( 20000 + RANDOM % 20000 ))
}

start() {
    local dir=${1:?usage: postgres.sh start DIR}
    install
    local bin
    bin=$(bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)

    # Idempotent: a server already running in DIR is reused.
    if [[ -f "$dir/connection" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        cat "$dir/connection"
        return 0
    fi

    [[ -z "$(ls -A "$dir")" ]] || die "$dir is not empty (and no server runs in it); stop it first"
    if [[ $(id -u) -eq 0 ]]; then
        # The owner must be able to reach DIR; a temp dir under a private (0700) parent would not do.
        as_owner true
        chown postgres: "$dir"
        chmod 0755 "$dir"
    fi

    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

    local settings="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=1000 -c shared_buffers=64MB"
    if [[ "${PG_DURABLE:-0}" == 1 ]]; then
        settings="-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=200 -c shared_buffers=256MB"
    fi

    local port attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        # Loopback only; socket in DIR; by default fsync off: test data need not survive a machine crash.
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start -o \
            "-c listen_addresses=127.0.0.1 -p $port -k $dir $settings" \
            >/dev/null 2>&1; then
            break
        fi
        port=
        grep -q "could not bind\|Address already in use" "$dir/server.log" 2>/dev/null || break
    done
    [[ -n "$port" ]] || { tail -20 "$dir/server.log" >&2; die "the server did not start"; }

    as_owner "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
        -c "CREATE DATABASE cityos" >/dev/null
    as_owner "$bin/psql" -h "$dir" -p "$port" -U postgres -d cityos -qAt -v ON_ERROR_STOP=1 \
        -c "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS btree_gin; CREATE EXTENSION IF NOT EXISTS btree_gist" >/dev/null \
        || die "CREATE EXTENSION postgis failed (see $dir/server.log)"

    # Test projects run in parallel and every store instance has its own pool: bound each pool so that
    # together they stay under max_connections ("sorry, too many clients already" was seen in CI runs).
    local connection="Host=127.0.0.1;Port=$port;Database=cityos;Username=postgres;Maximum Pool Size=40"
    echo "CITYOS_TEST_POSTGRES=$connection" >"$dir/connection"
    cat "$dir/connection"
}

stop() {
    local dir=${1:?usage: postgres.sh stop DIR}
    [[ -d "$dir" ]] || return 0
    local bin
    if bin=$(bindir) && [[ -f "$dir/data/postmaster.pid" ]]; then
        # Immediate: the data is thrown away, no need for a shutdown checkpoint.
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    install) install ;;
    start) start "${2:-}" ;;
    stop) stop "${2:-}" ;;
    *) die "usage: postgres.sh install | start DIR | stop DIR" ;;
esac
