#!/usr/bin/env bash
# A throwaway S3-compatible server (s3s-fs 0.14.1) for the tests of the object-store path.
#
#   scripts/test-s3.sh start   # builds the server once per machine if needed, starts it,
#                              # prints the endpoint URL
#   scripts/test-s3.sh root    # prints the folder it serves (one subfolder per bucket)
#   scripts/test-s3.sh stop    # stops it and removes its data
#
# The server checks the access keys (FACEGATE_TEST_S3_ACCESS_KEY / _SECRET_KEY below) and
# listens on 127.0.0.1 only, on a free port. The binary is kept in
# ${FACEGATE_TOOLS:-~/.cache/facegate/tools}/s3s-fs-0.14.1 (a ~2-11 min build, once).
set -euo pipefail
# shellcheck source=scripts/test-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"

S3S_VERSION="0.14.1"
ACCESS_KEY="facegate-test"
SECRET_KEY="facegate-test-secret"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${FACEGATE_TOOLS:-$HOME/.cache/facegate/tools}"
BIN="$TOOLS/s3s-fs-$S3S_VERSION/bin/s3s-fs"
CHECKOUT_ID="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
STATE="${FACEGATE_S3_STATE:-${TMPDIR:-/tmp}/facegate-test-s3-$CHECKOUT_ID}"

log() { printf 'test-s3: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

ensure_binary() {
    [[ -x "$BIN" ]] && return
    log "building s3s-fs $S3S_VERSION into $TOOLS (once per machine)"
    cargo install s3s-fs --version "$S3S_VERSION" --features binary --locked \
        --root "$TOOLS/s3s-fs-$S3S_VERSION" >&2
}

running() {
    [[ -f "$STATE/pid" ]] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null
}

endpoint() {
    printf 'http://127.0.0.1:%s\n' "$(cat "$STATE/port")"
}

start() {
    if running; then
        log "already running"
        endpoint
        return
    fi
    ensure_binary
    rm -rf "$STATE"
    mkdir -p "$STATE/data"
    local port
    port="$(free_port)"
    printf '%s\n' "$port" >"$STATE/port"
    nohup "$BIN" --host 127.0.0.1 --port "$port" --access-key "$ACCESS_KEY" \
        --secret-key "$SECRET_KEY" "$STATE/data" >"$STATE/s3s.log" 2>&1 &
    printf '%s\n' "$!" >"$STATE/pid"
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            log "running on 127.0.0.1:$port (data in $STATE/data)"
            endpoint
            return
        fi
        running || die "s3s-fs exited: $(cat "$STATE/s3s.log")"
        sleep 0.1
    done
    die "s3s-fs did not answer on port $port"
}

stop() {
    if running; then
        kill "$(cat "$STATE/pid")"
        log "stopped"
    else
        log "not running"
    fi
    rm -rf "$STATE"
}

case "${1:-}" in
start) start ;;
root) running || die "not running: run '$0 start'"; printf '%s\n' "$STATE/data" ;;
stop) stop ;;
*)
    echo "usage: $0 start|root|stop" >&2
    exit 2
    ;;
esac
