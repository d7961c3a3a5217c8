#!/usr/bin/env bash
# A throwaway Kafka-protocol broker (tansu) for the tests of facegate-queue.
#
#   scripts/test-kafka.sh start   # builds tansu if needed, starts it, prints the bootstrap address
#   scripts/test-kafka.sh url     # prints the bootstrap address of the running broker
#   scripts/test-kafka.sh stop    # stops the broker and removes its data
#
#   export FACEGATE_TEST_KAFKA_BROKERS="$(scripts/test-kafka.sh start)"
#   cargo test -p facegate-queue
#
# The broker is tansu 0.6.0 with its SQLite storage (its memory:// engine loses messages
# after a consumer resumes). It has no automatic topic creation: clients create their
# topics first (facegate_queue::ensure_topics). The binary is built once per machine with
# `cargo install` (about 23 CPU-minutes) into $FACEGATE_TOOLS/tansu-0.6.0 (default
# ~/.cache/facegate/tools) and reused when present. The broker listens on 127.0.0.1 only,
# on a free port. Only the address goes to stdout; progress goes to stderr.
#
# FACEGATE_KAFKA_STATE overrides the state folder (default: a folder of /tmp named after
# this checkout, removed by `stop`).
set -euo pipefail
# shellcheck source=scripts/test-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"

TANSU_VERSION="0.6.0"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${FACEGATE_TOOLS:-$HOME/.cache/facegate/tools}"
TANSU_ROOT="$TOOLS/tansu-$TANSU_VERSION"
TANSU="$TANSU_ROOT/bin/tansu"
CHECKOUT_ID="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
STATE="${FACEGATE_KAFKA_STATE:-${TMPDIR:-/tmp}/facegate-test-kafka-$CHECKOUT_ID}"

log() { printf 'test-kafka: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

ensure_tansu() {
    if [[ -x "$TANSU" ]]; then
        return
    fi
    log "building tansu $TANSU_VERSION into $TANSU_ROOT (once per machine, ~10 minutes)"
    mkdir -p "$TANSU_ROOT"
    cargo install tansu --version "$TANSU_VERSION" --locked --features libsql \
        --root "$TANSU_ROOT" >&2
    [[ -x "$TANSU" ]] || die "cargo install did not produce $TANSU"
}

address() {
    printf '127.0.0.1:%s\n' "$(cat "$STATE/port")"
}

running() {
    [[ -f "$STATE/pid" && -f "$STATE/port" ]] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null
}

# True once something accepts connections on the port.
answers() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    if running; then
        log "already running"
        address
        return
    fi
    ensure_tansu
    rm -rf "$STATE"
    mkdir -p "$STATE"
    local port pid
    port="$(free_port)"
    printf '%s\n' "$port" >"$STATE/port"
    # tansu resolves the path of a sqlite:// URL against its working directory (an
    # absolute path gets the directory prefixed again), so it runs inside the state
    # folder with a relative database path.
    (
        cd "$STATE"
        exec "$TANSU" broker \
            --listener-url "tcp://127.0.0.1:$port" \
            --advertised-listener-url "tcp://127.0.0.1:$port" \
            --storage-engine "sqlite://tansu.db" \
            </dev/null >"$STATE/tansu.log" 2>&1
    ) &
    pid=$!
    printf '%s\n' "$pid" >"$STATE/pid"
    local waited=0
    until answers "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            die "tansu exited: $(tail -n 20 "$STATE/tansu.log")"
        fi
        if ((waited >= 300)); then
            kill "$pid" 2>/dev/null || true
            die "tansu did not answer on 127.0.0.1:$port within 30 s: $(tail -n 20 "$STATE/tansu.log")"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    log "running on 127.0.0.1:$port (pid $pid, data in $STATE)"
    address
}

stop() {
    if running; then
        local pid waited=0
        pid="$(cat "$STATE/pid")"
        kill "$pid"
        while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
        fi
        log "stopped"
    else
        log "not running"
    fi
    rm -rf "$STATE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url) running || die "not running: run '$0 start'"; address ;;
*)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
