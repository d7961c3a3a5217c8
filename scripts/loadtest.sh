#!/usr/bin/env bash
# Load figures for docs/BENCHMARKS.md: starts `facegate serve` on a fresh data folder and
# drives verify, index and search with wrk (4 connections, 2 threads), JSON bodies with two
# ~640 px JPEGs, with an admin API key and the rate limits raised for the run. Fails when
# any request fails or none succeeds. Usage: scripts/loadtest.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/facegate"
duration=${1:-30}
conns=${2:-4}
threads=$(( conns < 2 ? conns : 2 ))
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
# The bench's two photos, resized so the longer side is 640 px, as JPEG.
"$bin" bench --write-photos "$work"
for name in a b; do base64 -w0 "$work/$name.jpg" > "$work/$name.b64"; done
port=$((20000 + RANDOM % 10000))
key="fgk_load-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
limit=100000000
FACEGATE__STORAGE__DATA_DIR="$work/data" FACEGATE__STORAGE__BLOB_DIR="$work/blobs" \
  FACEGATE__HTTP__BIND="127.0.0.1:$port" FACEGATE__LOG__LEVEL=warn \
  FACEGATE__AUTH__ADMIN_API_KEY="$key" \
  FACEGATE__HTTP__RATE_LIMITS__INDEX_PER_KEY_PER_MINUTE=$limit \
  FACEGATE__HTTP__RATE_LIMITS__SEARCH_PER_IP_PER_MINUTE=$limit \
  "$bin" serve &
server=$!
ready=no
for _ in $(seq 120); do
  curl -sf "127.0.0.1:$port/health/ready" >/dev/null && { ready=yes; break; }
  kill -0 $server 2>/dev/null || break
  sleep 1
done
[ $ready = yes ] || { echo "loadtest: facegate serve did not become ready" >&2; exit 1; }
failed=0
for mode in verify index search; do
  result=$(FG_MODE=$mode FG_BODY_DIR=$work FG_API_KEY=$key wrk -t"$threads" -c"$conns" \
    -d"${duration}s" --timeout 10s -s scripts/loadtest.lua "http://127.0.0.1:$port" | grep '^RESULT')
  echo "$result"
  # Every request must have succeeded (2xx), and at least one must have been made.
  requests=$(sed -n 's/.* requests=\([0-9]*\) .*/\1/p' <<<"$result")
  errors=$(sed -n 's/.* errors=\([0-9]*\) .*/\1/p' <<<"$result")
  if [ "${requests:-0}" -eq 0 ] || [ "${errors:-1}" -ne 0 ]; then
    echo "loadtest: $mode: ${errors:-?} errors (wrk: non-2xx answers and socket errors) over ${requests:-0} requests" >&2
    failed=1
  fi
done
exit $failed
