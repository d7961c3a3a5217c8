#!/usr/bin/env bash
# facegate against the Python peer (insightface 0.7.3 with the same model files,
# ../shared/tools/peer-insightface), on one and two threads, alternating rounds in one sitting:
# the median time of a verified pair (decode, detect, embed both photos, compare) at
# detection sizes 320 and 640, and their ratio. Sets the peer up on first use (PyPI).
# Usage: scripts/bench-peer.sh [rounds]   (PEER_TOOL, PEER_DIR override the folders)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
tool=${PEER_TOOL:-../shared/tools/peer-insightface}
peer=${PEER_DIR:-target/peer}
bin="${CARGO_TARGET_DIR:-target}/release/facegate"
[ -f "$tool/verify_bench.py" ] || { echo "bench-peer: $tool/verify_bench.py not found" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench-peer: build first (make setup)" >&2; exit 1; }
if [ ! -x "$peer/venv/bin/python" ]; then
  python3 -m venv "$peer/venv"
  "$peer/venv/bin/pip" install -q onnxruntime==1.31.1 opencv-python-headless
  "$peer/venv/bin/pip" install -q insightface==0.7.3
fi
# The peer gets the registry's own files, as a user of insightface would: not the ones setup
# rewrote for facegate (models/manifest.toml, `convert`).
python3 - "$peer" <<'PY'
import sys, tomllib
from pathlib import Path
sys.path.insert(0, "scripts")
import install_models as im
peer = Path(sys.argv[1])
entries = tomllib.loads(im.MANIFEST.read_text())["model"]
for name in ("scrfd_500m_bnkps.onnx", "w600k_mbf.onnx"):
    entry = next(e for e in entries if e["file"] == f"insightface/{name}")
    target = peer / "models" / "buffalo_vectron" / name
    want = entry.get("member_sha256", entry["sha256"])
    if not (target.exists() and im.sha256(target) == want):
        im.extract(im.fetch(entry["source"], peer / "downloads"), entry["member"], target)
    if im.sha256(target) != want:
        sys.exit(f"bench-peer: {target}: sha256 differs from the manifest's {want}")
PY
results="$peer/results"
rm -rf "$results" && mkdir -p "$results"
for size in 320 640; do
  for round in $(seq "$rounds"); do
    for threads in 1 2; do
      "$peer/venv/bin/python" "$tool/verify_bench.py" --threads "$threads" --det-size "$size" \
        --root "$peer" --out-dir "$peer" --json "$results/peer-$size-$threads-$round.json" \
        >/dev/null 2>>"$results/peer.log"
    done
    FACEGATE__VISION__MAIN_FACE_DETECTION_SIZE=$size FACEGATE__LOG__LEVEL=warn \
      "$bin" bench --json "$results/facegate-$size-$round.json" >/dev/null 2>>"$results/facegate.log"
  done
done
python3 - "$results" "$rounds" <<'PY'
import json, statistics, sys
results, rounds = sys.argv[1], int(sys.argv[2])
def median(kind, size, threads, r):
    if kind == "peer":
        with open(f"{results}/peer-{size}-{threads}-{r}.json") as f:
            return json.load(f)["verify_pair"]["median_ms"]
    with open(f"{results}/facegate-{size}-{r}.json") as f:
        report = json.load(f)
    row = next(l for l in report["latency"] if l["intra_threads"] == threads)
    return row["verify_pair"]["median_ms"]
print("| detection size | threads | facegate verify pair (median per round) | insightface 0.7.3 | ratio (median of rounds) |")
print("|---|---|---|---|---|")
for size in (320, 640):
    for threads in (1, 2):
        ours = [median("facegate", size, threads, r) for r in range(1, rounds + 1)]
        theirs = [median("peer", size, threads, r) for r in range(1, rounds + 1)]
        ratios = [t / o for o, t in zip(ours, theirs)]
        fmt = lambda xs: " / ".join(f"{x:.1f}" for x in xs) + " ms"
        print(f"| {size} | {threads} | {fmt(ours)} | {fmt(theirs)} | {statistics.median(ratios):.2f} "
              f"({min(ratios):.2f}-{max(ratios):.2f}) |")
PY
