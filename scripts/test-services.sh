#!/usr/bin/env bash
# Every backend of the production path, started for one test run on 127.0.0.1, each on a
# free port with its data in a temporary folder: PostgreSQL 18 + pgvector, Redis, a
# Kafka-protocol broker (tansu, sqlite storage) and an S3-compatible server (s3s-fs); a
# PostgreSQL that accepts TLS connections only, for the TLS test; and Debian's Chromium and
# chromedriver for the browser test.
#
#   eval "$(scripts/test-services.sh start)"   # exports the FACEGATE_TEST_* variables
#   scripts/test-services.sh stop
#
# The broker and the S3 server are built once per machine into
# ${FACEGATE_TOOLS:-~/.cache/facegate/tools} and reused; Redis, Chromium and chromedriver
# are Debian's (installed here when missing and allowed: as root, or in CI).
set -euo pipefail
# shellcheck source=scripts/test-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECKOUT_ID="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
REDIS_STATE="${TMPDIR:-/tmp}/facegate-test-redis-$CHECKOUT_ID"

log() { printf 'test-services: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# Installs Debian package $2 when command $1 is missing (as root only).
ensure_package() {
    command -v "$1" >/dev/null && return
    [[ "$(id -u)" == 0 ]] || die "$1 is missing: apt-get install $2"
    log "installing $2"
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2")
    "${install[@]}" >&2 || { apt-get update -qq >&2 && "${install[@]}" >&2; }
}

start_redis() {
    ensure_package redis-server redis-server
    stop_redis
    mkdir -p "$REDIS_STATE"
    local port
    port="$(free_port)"
    redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
        --dir "$REDIS_STATE" --daemonize yes --pidfile "$REDIS_STATE/redis.pid" \
        --logfile "$REDIS_STATE/redis.log" >&2
    for _ in $(seq 1 50); do
        if redis-cli -p "$port" ping >/dev/null 2>&1; then
            printf '%s\n' "$port" >"$REDIS_STATE/port"
            log "redis on 127.0.0.1:$port"
            printf 'redis://127.0.0.1:%s/0\n' "$port"
            return
        fi
        sleep 0.1
    done
    die "redis did not answer on port $port"
}

stop_redis() {
    if [[ -f "$REDIS_STATE/pid" || -f "$REDIS_STATE/redis.pid" ]]; then
        kill "$(cat "$REDIS_STATE/redis.pid")" 2>/dev/null || true
    fi
    rm -rf "$REDIS_STATE"
}

start() {
    local database redis s3 s3_root kafka tls_database
    # The capture page's browser test: headless Chromium driven by chromedriver.
    ensure_package chromium chromium
    ensure_package chromedriver chromium-driver
    database="$("$ROOT/scripts/test-postgres.sh" start)"
    redis="$(start_redis)"
    s3="$("$ROOT/scripts/test-s3.sh" start)"
    s3_root="$("$ROOT/scripts/test-s3.sh" root)"
    kafka="$("$ROOT/scripts/test-kafka.sh" start)"
    tls_database="$("$ROOT/scripts/test-postgres-tls.sh" start)"
    printf 'export FACEGATE_TEST_DATABASE_URL=%q\n' "$database"
    printf 'export FACEGATE_TEST_TLS_DATABASE_URL=%q\n' "$tls_database"
    printf 'export FACEGATE_TEST_REDIS_URL=%q\n' "$redis"
    printf 'export FACEGATE_TEST_S3_ENDPOINT=%q\n' "$s3"
    printf 'export FACEGATE_TEST_S3_ROOT=%q\n' "$s3_root"
    printf 'export FACEGATE_TEST_KAFKA_BROKERS=%q\n' "$kafka"
}

stop() {
    "$ROOT/scripts/test-kafka.sh" stop >/dev/null 2>&1 || true
    "$ROOT/scripts/test-s3.sh" stop >/dev/null 2>&1 || true
    stop_redis
    "$ROOT/scripts/test-postgres.sh" stop >/dev/null 2>&1 || true
    "$ROOT/scripts/test-postgres-tls.sh" stop >/dev/null 2>&1 || true
    log "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
