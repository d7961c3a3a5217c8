#!/usr/bin/env bash
# facegate against the Python peer (insightface 0.7.3 with the same model files,
# ../shared/tools/peer-insightface), one thread each, alternating rounds in one sitting:
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
mkdir -p "$peer/models/buffalo_vectron"
cp models/insightface/scrfd_500m_bnkps.onnx models/insightface/w600k_mbf.onnx \
  "$peer/models/buffalo_vectron/"
results="$peer/results"
rm -rf "$results" && mkdir -p "$results"
for size in 320 640; do
  for round in $(seq "$rounds"); do
    "$peer/venv/bin/python" "$tool/verify_bench.py" --threads 1 --det-size "$size" \
      --root "$peer" --out-dir "$peer" --json "$results/peer-$size-$round.json" \
      >/dev/null 2>>"$results/peer.log"
    FACEGATE__VISION__MAIN_FACE_DETECTION_SIZE=$size FACEGATE__LOG__LEVEL=warn \
      "$bin" bench --json "$results/facegate-$size-$round.json" >/dev/null 2>>"$results/facegate.log"
  done
done
python3 - "$results" "$rounds" <<'PY'
import json, statistics, sys
results, rounds = sys.argv[1], int(sys.argv[2])
def median(kind, size, r):
    with open(f"{results}/{kind}-{size}-{r}.json") as f:
        report = json.load(f)
    if kind == "peer":
        return report["verify_pair"]["median_ms"]
    one = next(l for l in report["latency"] if l["intra_threads"] == 1)
    return one["verify_pair"]["median_ms"]
print("| detection size | facegate verify pair (median per round) | insightface 0.7.3 | ratio (median of rounds) |")
print("|---|---|---|---|")
for size in (320, 640):
    ours = [median("facegate", size, r) for r in range(1, rounds + 1)]
    theirs = [median("peer", size, r) for r in range(1, rounds + 1)]
    ratios = [t / o for o, t in zip(ours, theirs)]
    fmt = lambda xs: " / ".join(f"{x:.1f}" for x in xs) + " ms"
    print(f"| {size} | {fmt(ours)} | {fmt(theirs)} | {statistics.median(ratios):.2f} "
          f"({min(ratios):.2f}-{max(ratios):.2f}) |")
PY
