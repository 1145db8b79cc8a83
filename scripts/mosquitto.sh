#!/usr/bin/env bash
# A throwaway Mosquitto MQTT broker for the MQTT notification tests.
#
#   scripts/mosquitto.sh install      installs mosquitto (Debian package) when missing
#   scripts/mosquitto.sh start DIR    installs if needed, starts a broker on a free 127.0.0.1 port (anonymous
#                                     access, no persistence) with its files in DIR, and prints
#                                     CITYOS_TEST_MQTT=mqtt://127.0.0.1:<port> (also written to DIR/connection)
#   scripts/mosquitto.sh stop DIR     stops the broker and removes DIR (no error when already gone)
set -euo pipefail

die() { echo "mosquitto.sh: $*" >&2; exit 1; }

binary() {
    local b
    for b in /usr/sbin/mosquitto "$(command -v mosquitto 2>/dev/null || true)"; do
        [[ -n "$b" && -x "$b" ]] && { echo "$b"; return 0; }
    done
    return 1
}

install() {
    binary >/dev/null && return 0
    [[ $(id -u) -eq 0 ]] || die "mosquitto missing and not root: install the mosquitto package"
    command -v apt-get >/dev/null || die "mosquitto missing and no apt-get: install Mosquitto 2"
    echo "mosquitto.sh: installing mosquitto (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends mosquitto >&2
    binary >/dev/null || die "installation finished but mosquitto is still missing"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
        || echo $(( 20000 + RANDOM % 20000 ))
}

start() {
    local dir=${1:?usage: mosquitto.sh start DIR}
    install
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f "$dir/connection" && -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        cat "$dir/connection"
        return 0
    fi

    local attempt port
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        cat >"$dir/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
log_dest file $dir/mosquitto.log
CONF
        # Mosquitto drops root privileges to the "mosquitto" user, which must be able to write the log.
        chmod 777 "$dir"
        "$(binary)" -c "$dir/mosquitto.conf" -d
        local i
        for i in $(seq 1 50); do
            if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$port)))" 2>/dev/null; then
                pgrep -f -n "mosquitto -c $dir/mosquitto.conf" >"$dir/pid"
                echo "CITYOS_TEST_MQTT=mqtt://127.0.0.1:$port" | tee "$dir/connection"
                return 0
            fi
            sleep 0.1
        done
        local stray
        stray=$(pgrep -f -n "mosquitto -c $dir/mosquitto.conf" || true)
        [[ -n "$stray" ]] && kill "$stray" 2>/dev/null || true
    done
    die "could not start mosquitto (see $dir/mosquitto.log)"
}

stop() {
    local dir=${1:?usage: mosquitto.sh stop DIR}
    [[ -d "$dir" ]] || return 0
    if [[ -f "$dir/pid" ]]; then
        kill "$(cat "$dir/pid")" 2>/dev/null || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    install) install ;;
    start) start "${2:-}" ;;
    stop) stop "${2:-}" ;;
    *) die "usage: mosquitto.sh install | start DIR | stop DIR" ;;
esac
