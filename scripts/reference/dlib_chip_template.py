#!/usr/bin/env python3
"""Where the open pack's five landmarks land in dlib's 150x150 face chip.

dlib's ResNet face descriptor was trained on chips cut by dlib's own 5-point model
(`get_face_chip_details(shape, 150, 0.25)`), whose points are eye corners and the base of
the nose, not facegate's eye centres, nose tip and mouth corners. This script measures the
mean position of facegate's points in dlib's chip over LFW faces: dlib finds the face and
its 5 points and gives the chip's transform; `facegate detect` (open pack) gives facegate's
points, which are mapped through it. The result is `align::DLIB_CHIP_TEMPLATE`.

dlib and its 5-point model (CC0) are used here only, never by facegate:

    pip install dlib-bin==20.0.1.post1 numpy pillow
    pip download --no-deps --no-binary :all: face_recognition_models==0.3.0  # then unpack
    python3 scripts/reference/dlib_chip_template.py --models-package DIR [--people 300]

Run from the repository root after `scripts/setup.sh` and `cargo build --release`.
Measured on 2026-12-07 over 297 LFW people (one photo each, one dlib face):
(47.938, 46.027) (101.920, 46.048) (74.939, 77.396) (50.138, 104.784) (98.566, 104.727),
standard deviations 1.6-2.1 px for the eyes and 4.4-5.9 px for the nose and mouth.
"""

import argparse
import glob
import json
import os
import subprocess

import dlib
import numpy as np
from PIL import Image

SIZE, PADDING = 150, 0.25
# dlib's template for its 5-point model (dlib/image_transforms/interpolation.h).
DLIB_5 = np.array([(0.8595674595992, 0.2134981538014), (0.6460604764104, 0.2289674387677),
                   (0.1205750620789, 0.2137274526848), (0.3340850613712, 0.2290642403242),
                   (0.4901123135679, 0.6277975316475)])


def similarity(src, dst):
    """Least-squares similarity taking src onto dst, as a function of points."""
    s, d = src[:, 0] + 1j * src[:, 1], dst[:, 0] + 1j * dst[:, 1]
    sm, dm = s.mean(), d.mean()
    a = np.vdot(s - sm, d - dm) / np.vdot(s - sm, s - sm)
    return lambda p: a * ((p[:, 0] + 1j * p[:, 1]) - sm) + dm


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-package", required=True,
                        help="the unpacked face_recognition_models-0.3.0 folder")
    parser.add_argument("--datasets", default="../shared/datasets")
    parser.add_argument("--people", type=int, default=300)
    args = parser.parse_args()
    models = os.path.join(args.models_package, "face_recognition_models", "models")
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(os.path.join(models, "shape_predictor_5_face_landmarks.dat"))
    template = (PADDING + DLIB_5) / (2 * PADDING + 1) * SIZE
    env = dict(os.environ, FACEGATE__VISION__PACK="open")
    people = sorted(glob.glob(os.path.join(args.datasets, "lfw", "*", "")))
    found = []
    for person in people[::max(1, len(people) // args.people)]:
        photo = sorted(glob.glob(person + "*.jpg"))[0]
        img = np.array(Image.open(photo).convert("RGB"))
        faces = detector(img, 1)
        if len(faces) != 1:
            continue
        parts = np.array([(p.x, p.y) for p in predictor(img, faces[0]).parts()], float)
        out = subprocess.run(["target/release/facegate", "detect", photo], env=env,
                             capture_output=True, text=True, check=True)
        ours = json.loads(out.stdout)["faces"]
        if not ours:
            continue
        points = np.array([(p["x"], p["y"]) for p in ours[0]["landmarks"]], float)
        z = similarity(parts, template)(points)
        found.append(np.stack([z.real, z.imag], 1))
    found = np.array(found)
    print(f"{len(found)} faces")
    print("mean", np.round(found.mean(0), 3).tolist())
    print("std ", np.round(found.std(0), 2).tolist())


if __name__ == "__main__":
    main()
