#!/usr/bin/env bash
# Load figures for docs/BENCHMARKS.md: starts `facegate serve` on a fresh data folder and
# drives verify, index and search with wrk (4 connections, 2 threads), JSON bodies with two
# ~640 px JPEGs. Usage: scripts/loadtest.sh [seconds] [connections]
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
FACEGATE__STORAGE__DATA_DIR="$work/data" FACEGATE__STORAGE__BLOB_DIR="$work/blobs" \
  FACEGATE__HTTP__BIND="127.0.0.1:$port" FACEGATE__LOG__LEVEL=warn \
  "$bin" serve &
server=$!
for _ in $(seq 60); do curl -sf "127.0.0.1:$port/health/ready" >/dev/null && break; sleep 1; done
for mode in verify index search; do
  FG_MODE=$mode FG_BODY_DIR=$work wrk -t"$threads" -c"$conns" -d"${duration}s" --timeout 10s \
    -s scripts/loadtest.lua "http://127.0.0.1:$port" | grep '^RESULT'
done
