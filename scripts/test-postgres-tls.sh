#!/usr/bin/env bash
# A throwaway PostgreSQL server that accepts TLS connections only, with a certificate from
# a throwaway CA, for the test that facegate reaches a database over verified TLS.
#
#   scripts/test-postgres-tls.sh start   # prints a postgres:// URL with sslmode=verify-full
#   scripts/test-postgres-tls.sh stop
#
# It runs Debian's PostgreSQL (package postgresql, built with OpenSSL; installed here when
# missing and allowed: as root) as the system user facegate-pg on 127.0.0.1, a free port.
# pg_hba.conf trusts TLS connections from 127.0.0.1 and rejects plain ones. The CA and the
# server's certificate come from scripts/test-tls-certs.sh, in the server's folder; the
# URL names the CA file as sslrootcert.
set -euo pipefail
# shellcheck source=scripts/test-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECKOUT_ID="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
STATE="${TMPDIR:-/tmp}/facegate-test-postgres-tls-$CHECKOUT_ID"
PG_USER="facegate-pg"

log() { printf 'test-postgres-tls: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

server_bin() {
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [[ -z "$bin" ]]; then
        [[ "$(id -u)" == 0 ]] || die "PostgreSQL is missing: apt-get install postgresql"
        log "installing Debian's postgresql"
        apt-get install -y -qq postgresql >&2 ||
            { apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2; }
        bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    fi
    printf '%s\n' "$bin"
}

start() {
    stop
    if [[ "$(id -u)" == 0 ]] && ! id -u "$PG_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$PG_USER"
    fi
    local bin port
    bin="$(server_bin)"
    "$ROOT/scripts/test-tls-certs.sh" "$STATE/tls"
    if [[ "$(id -u)" == 0 ]]; then chown -R "$PG_USER" "$STATE"; fi
    as_server_user "$bin/initdb" -D "$STATE/data" -U postgres --auth=trust -E UTF8 \
        --no-locale --no-sync >"$STATE/initdb.log" 2>&1 ||
        die "initdb failed: $(cat "$STATE/initdb.log")"
    printf 'hostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n' |
        as_server_user tee "$STATE/data/pg_hba.conf" >/dev/null
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    as_server_user "$bin/pg_ctl" start -D "$STATE/data" -l "$STATE/postgres.log" -w -t 60 -o \
        "-h 127.0.0.1 -p $port -k $STATE -c fsync=off -c ssl=on \
         -c ssl_cert_file=$STATE/tls/server.pem -c ssl_key_file=$STATE/tls/server.key" >&2 ||
        die "postgres did not start: $(tail -n 20 "$STATE/postgres.log")"
    printf '%s\n' "$bin" >"$STATE/bin"
    log "TLS only on 127.0.0.1:$port"
    printf 'postgres://postgres@127.0.0.1:%s/postgres?sslmode=verify-full&sslrootcert=%s\n' \
        "$port" "$STATE/tls/ca.pem"
}

stop() {
    if [[ -f "$STATE/bin" ]]; then
        as_server_user "$(cat "$STATE/bin")/pg_ctl" stop -D "$STATE/data" -m fast -w \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$STATE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*) die "usage: $0 start|stop" ;;
esac
