#!/usr/bin/env python3
"""Independent Python reference of facegate's face pipeline, for golden-value tests.

This is the reference that `crates/facegate-vision/tests/reference.rs` checks the Rust
pipeline against. It is written from the model facts in `MODELS.md` and `MODELS-open.md`
(SCRFD + w600k_mbf for pack `insightface`; fr_detect + MTCNN O-Net + fr_feature for pack
`open`) with numpy, OpenCV and onnxruntime, and shares no code with the Rust crate. It
writes the main face of a fixed list of real photos - box, score, five landmarks, the
embedding and the flip-TTA embedding - to `crates/facegate-vision/tests/golden/reference.json`.

Run it from the repository root, after `scripts/setup.sh` has installed the models:

    pip install numpy onnxruntime==1.31.1 opencv-python-headless
    python3 scripts/reference/pipeline_reference.py            # writes the golden file
    python3 scripts/reference/pipeline_reference.py --scan 400 # lists LFW photos with
                                                              # several faces / a pad retry

Options: `--models DIR` (default `models`), `--datasets DIR` (default
`../shared/datasets`), `--out FILE`. Image paths in the JSON are relative to the datasets
folder; the photos are research-only and are never copied into the repository.

Regenerate the golden file only when a documented model fact changes, and say why in the
commit: the Rust test must follow this file, not the other way round.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

# The photos the golden file covers (relative to the datasets folder), chosen with
# `--scan`: ordinary LFW portraits, LFW photos with several faces, LFW photos where SCRFD
# finds nothing at 640 and needs the padded retry, and two larger press photos (one
# landscape, one portrait, so both resize branches run).
IMAGES = [
    "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "lfw/George_W_Bush/George_W_Bush_0007.jpg",
    "lfw/Arlen_Specter/Arlen_Specter_0003.jpg",  # SCRFD: padded retry
    "lfw/Chan_Gailey/Chan_Gailey_0001.jpg",  # SCRFD: padded retry
    "lfw/Abdullah_Gul/Abdullah_Gul_0008.jpg",  # 4 faces
    "lfw/Arnold_Schwarzenegger/Arnold_Schwarzenegger_0012.jpg",  # 6 faces (SCRFD)
    "lfw/Beatrice_Dalle/Beatrice_Dalle_0001.jpg",  # 9 faces (SCRFD)
    "identities/face_recognition-examples/kit_harington/john1.jpg",  # 1200x599
    "identities/face_recognition-examples/joe_biden/biden.jpg",  # 970x2204
]

ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def load_rgb(path: Path) -> np.ndarray:
    """8-bit RGB, EXIF orientation applied (cv2.imread's default), alpha dropped."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def pad_image(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    h, w = rgb.shape[:2]
    p = int(0.5 * max(w, h))
    return cv2.copyMakeBorder(rgb, p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0)), p


def centered_rank(boxes: np.ndarray, w: int, h: int) -> np.ndarray:
    """InsightFace's ranking: area minus 2 x squared distance of the box centre to the
    image centre. Returns indices, best first."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 - w / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 - h / 2
    return np.argsort(-(area - 2.0 * (cx * cx + cy * cy)), kind="stable")


# ----------------------------------------------------------------------------- alignment


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity src -> dst (Umeyama 1991, with scale), as
    skimage.transform.SimilarityTransform.estimate. Returns the 3x3 matrix."""
    num, dim = src.shape
    src_mean = src.mean(axis=0)
    dst_mean = dst.mean(axis=0)
    src_d = src - src_mean
    dst_d = dst - dst_mean
    a = dst_d.T @ src_d / num
    d = np.ones(dim)
    if np.linalg.det(a) < 0:
        d[dim - 1] = -1
    t = np.eye(dim + 1)
    u, s, vt = np.linalg.svd(a)
    rank = np.linalg.matrix_rank(a)
    if rank == 0:
        return np.full((dim + 1, dim + 1), np.nan)
    if rank == dim - 1:
        if np.linalg.det(u) * np.linalg.det(vt) > 0:
            t[:dim, :dim] = u @ vt
        else:
            saved = d[dim - 1]
            d[dim - 1] = -1
            t[:dim, :dim] = u @ np.diag(d) @ vt
            d[dim - 1] = saved
    else:
        t[:dim, :dim] = u @ np.diag(d) @ vt
    scale = 1.0 / src_d.var(axis=0).sum() * (s @ d)
    t[:dim, dim] = dst_mean - scale * (t[:dim, :dim] @ src_mean)
    t[:dim, :dim] *= scale
    return t


def align(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    m = umeyama(landmarks.astype(np.float64), ARCFACE_TEMPLATE)[:2]
    return cv2.warpAffine(rgb, m, (112, 112), borderValue=0.0)


def embed(sess: ort.InferenceSession, crop: np.ndarray, mean: float, std: float):
    """Plain and flip-TTA embeddings (sum of raw outputs of the crop and its mirror),
    both L2-normalised."""
    name = sess.get_inputs()[0].name
    raw = []
    for img in (crop, cv2.flip(crop, 1)):
        blob = ((img.astype(np.float32) - mean) / std).transpose(2, 0, 1)[None]
        raw.append(sess.run(None, {name: np.ascontiguousarray(blob)})[0][0].astype(np.float64))
    plain = raw[0] / np.linalg.norm(raw[0])
    flip = raw[0] + raw[1]
    return plain, flip / np.linalg.norm(flip)


# ----------------------------------------------------------------------- pack insightface


class InsightfacePack:
    name = "insightface"

    def __init__(self, models: Path):
        self.det = session(models / "insightface/scrfd_500m_bnkps.onnx")
        self.rec = session(models / "insightface/w600k_mbf.onnx")

    def _detect_once(self, rgb: np.ndarray):
        h, w = rgb.shape[:2]
        if h > w:
            new_h, new_w = 640, int(640 * w / h)
        else:
            new_w, new_h = 640, int(640 * h / w)
        det_scale = new_h / h
        canvas = np.zeros((640, 640, 3), dtype=np.uint8)
        canvas[:new_h, :new_w] = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        blob = ((canvas.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
        outs = self.det.run(None, {self.det.get_inputs()[0].name: np.ascontiguousarray(blob)})
        boxes, scores, kpss = [], [], []
        for stride in (8, 16, 32):
            cells = 640 // stride
            n = cells * cells * 2

            def by_shape(width: int) -> np.ndarray:
                found = [o for o in outs if o.shape[-1] == width and o.size == n * width]
                assert len(found) == 1, (stride, width)
                return found[0].reshape(n, width)

            score = by_shape(1)[:, 0]
            dist = by_shape(4) * stride
            kps = by_shape(10) * stride
            rows, cols = np.mgrid[:cells, :cells]
            centres = np.stack([cols, rows], axis=-1).reshape(-1, 2).astype(np.float32) * stride
            centres = np.repeat(centres, 2, axis=0)  # two anchors per cell
            keep = np.where(score >= 0.5)[0]
            c = centres[keep]
            d = dist[keep]
            boxes.append(np.stack([c[:, 0] - d[:, 0], c[:, 1] - d[:, 1], c[:, 0] + d[:, 2], c[:, 1] + d[:, 3]], axis=1))
            k = kps[keep].reshape(-1, 5, 2) + c[:, None, :]
            kpss.append(k)
            scores.append(score[keep])
        # As InsightFace's SCRFD.detect: scale back by det_scale, then NMS.
        boxes = np.concatenate(boxes).astype(np.float64) / det_scale
        kpss = np.concatenate(kpss).astype(np.float64) / det_scale
        scores = np.concatenate(scores).astype(np.float64)
        order = np.argsort(-scores, kind="stable")
        keep = nms_iou(boxes[order], 0.4)
        idx = order[keep]
        return boxes[idx], scores[idx], kpss[idx]

    def main_face(self, rgb: np.ndarray) -> dict | None:
        h, w = rgb.shape[:2]
        boxes, scores, kpss = self._detect_once(rgb)
        padded = False
        if len(boxes) == 0:
            big, p = pad_image(rgb)
            boxes, scores, kpss = self._detect_once(big)
            boxes = boxes - p
            kpss = kpss - p
            padded = True
        if len(boxes) == 0:
            return None
        i = centered_rank(boxes, w, h)[0]
        crop = align(rgb, kpss[i])
        plain, flip = embed(self.rec, crop, 127.5, 127.5)
        return dict(
            face_count=len(boxes), padded_retry=padded, box=boxes[i], score=scores[i],
            landmarks=kpss[i], embedding=plain, embedding_flip=flip,
        )


def nms_iou(boxes: np.ndarray, thresh: float) -> list[int]:
    """Greedy IoU NMS on boxes already sorted by score, `+1` area convention."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.arange(len(boxes))
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1 + 1) * np.maximum(0.0, yy2 - yy1 + 1)
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= thresh)[0] + 1]
    return keep


# ------------------------------------------------------------------------------ pack open


class OpenPack:
    name = "open"

    def __init__(self, models: Path, nms: str = "score"):
        self.nms = nms
        self.det = session(models / "open/fr_detect.onnx")
        self.onet = session(models / "open/onet.onnx")
        self.rec = session(models / "open/fr_feature.onnx")

    def _boxes(self, rgb: np.ndarray):
        """MODELS-open.md 7.2: fr_detect on a plain 320x240 resize, B,G,R, (v-127)/128."""
        h, w = rgb.shape[:2]
        small = cv2.resize(rgb, (320, 240), interpolation=cv2.INTER_LINEAR)
        blob = ((small[:, :, ::-1].astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
        scores, boxes = self.det.run(["scores", "boxes"], {"input": np.ascontiguousarray(blob)})
        scores = scores[0, :, 1].astype(np.float64)
        boxes = boxes[0].astype(np.float64)
        keep = np.where(scores >= 0.65)[0]
        keep = keep[np.argsort(-scores[keep], kind="stable")][:750]
        scores, boxes = scores[keep], boxes[keep] * np.array([320, 240, 320, 240])
        # MODELS.md lists the JavaScript's bottom-edge-sorted NMS among the bugs not to
        # port, while MODELS-open.md 7.2 measured with it; the service uses score-sorted
        # IoU NMS, and so does the golden file (`--open-nms js` gives the other).
        keep = nms_js(boxes, 0.4) if self.nms == "js" else nms_iou(boxes, 0.4)
        scores, boxes = scores[keep], boxes[keep]
        boxes = boxes * np.array([w / 320, h / 240, w / 320, h / 240])
        out = []
        for b in boxes:
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            half = (b[3] - b[1]) / 2
            out.append([max(cx - half, 0.0), max(cy - half, 0.0), min(cx + half, w - 1.0), min(cy + half, h - 1.0)])
        return np.array(out, dtype=np.float64).reshape(-1, 4), scores

    def _onet(self, rgb: np.ndarray, b: np.ndarray):
        """MODELS-open.md 7.3 steps 1-7: one O-Net pass."""
        h, w = rgb.shape[:2]
        x1, y1, x2, y2 = b
        bw_, bh_ = x2 - x1, y2 - y1
        m = max(bw_, bh_)
        x1 += bw_ / 2 - m / 2
        y1 += bh_ / 2 - m / 2
        x2, y2 = x1 + m, y1 + m
        X1, Y1, X2, Y2 = (int(np.fix(v)) for v in (x1, y1, x2, y2))
        bw, bh = X2 - X1 + 1, Y2 - Y1 + 1
        crop = np.zeros((bh, bw, 3), dtype=np.uint8)
        sx1, sy1, sx2, sy2 = max(X1, 0), max(Y1, 0), min(X2, w - 1), min(Y2, h - 1)
        if sx2 >= sx1 and sy2 >= sy1:
            crop[sy1 - Y1 : sy2 - Y1 + 1, sx1 - X1 : sx2 - X1 + 1] = rgb[sy1 : sy2 + 1, sx1 : sx2 + 1]
        r = cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)
        t = ((r.astype(np.float32) - 127.5) * 0.0078125).transpose(1, 0, 2)[None]
        reg, pts, prob = self.onet.run(["dense_5", "dense_6", "softmax_2"], {"input_3": np.ascontiguousarray(t)})
        reg, pts = reg[0].astype(np.float64), pts[0].astype(np.float64)
        lm = np.stack([X1 + bw * pts[:5], Y1 + bh * pts[5:]], axis=1)
        refined = np.array([X1 + reg[0] * bw, Y1 + reg[1] * bh, X2 + reg[2] * bw, Y2 + reg[3] * bh])
        return float(prob[0, 1]), lm, refined

    def main_face(self, rgb: np.ndarray) -> dict | None:
        h, w = rgb.shape[:2]
        work, p = rgb, 0
        boxes, scores = self._boxes(work)
        padded = False
        if len(boxes) == 0:
            # 7.2 "No face": retry on a padded copy and keep working in padded coordinates.
            work, p = pad_image(rgb)
            boxes, scores = self._boxes(work)
            padded = True
        if len(boxes) == 0:
            return None
        if len(boxes) > 1:
            ok = [i for i, b in enumerate(boxes) if self._onet(work, b)[0] >= 0.5]
            if ok:
                boxes, scores = boxes[ok], scores[ok]
        # The Rust service ranks with the centered rule (MODELS.md) rather than 7.2's largest.
        i = centered_rank(boxes - p, w, h)[0]
        _, _, refined = self._onet(work, boxes[i])
        _, lm, _ = self._onet(work, refined)
        crop = align(work, lm)
        plain, flip = embed(self.rec, crop, 127.0, 128.0)
        return dict(
            face_count=len(boxes), padded_retry=padded, box=boxes[i] - p, score=scores[i],
            landmarks=lm - p, embedding=plain, embedding_flip=flip,
        )


def nms_js(boxes: np.ndarray, thresh: float) -> list[int]:
    """NMS as the package's JavaScript does it (MODELS-open.md 7.2): boxes with positive
    size sorted by bottom edge (stable); take the first, drop every other box whose
    intersection (+1 convention) over its own area (no +1) reaches `thresh`; repeat."""
    x1, y1, x2, y2 = boxes.T if len(boxes) else (np.zeros(0),) * 4
    cand = [i for i in range(len(boxes)) if x2[i] - x1[i] > 0 and y2[i] - y1[i] > 0]
    cand.sort(key=lambda i: y2[i])
    keep = []
    while cand:
        i = cand.pop(0)
        keep.append(i)
        rest = []
        for j in cand:
            iw = max(0.0, min(x2[i], x2[j]) - max(x1[i], x1[j]) + 1)
            ih = max(0.0, min(y2[i], y2[j]) - max(y1[i], y1[j]) + 1)
            if iw * ih / ((x2[j] - x1[j]) * (y2[j] - y1[j])) < thresh:
                rest.append(j)
        cand = rest
    return keep


# ----------------------------------------------------------------------------------- main


def rounded(v) -> object:
    if isinstance(v, dict):
        return {k: rounded(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return [rounded(x) for x in v.tolist()]
    if isinstance(v, list):
        return [rounded(x) for x in v]
    if isinstance(v, (float, np.floating)):
        return round(float(v), 6)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    return v


def to_json(doc) -> str:
    """Indented JSON with every list of numbers on one line."""

    def enc(v, ind):
        pad = "  " * ind
        if isinstance(v, dict):
            items = [f'{pad}  {json.dumps(k)}: {enc(x, ind + 1)}' for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(v, list) and v and isinstance(v[0], (dict,)):
            return "[\n" + ",\n".join(pad + "  " + enc(x, ind + 1) for x in v) + "\n" + pad + "]"
        return json.dumps(v)

    return enc(doc, 0) + "\n"


def main() -> int:
    repo = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=Path, default=repo / "models")
    ap.add_argument("--datasets", type=Path, default=repo.parent / "shared" / "datasets")
    ap.add_argument("--out", type=Path, default=repo / "crates/facegate-vision/tests/golden/reference.json")
    ap.add_argument("--open-nms", choices=["score", "js"], default="score",
                    help="open pack NMS: score-sorted IoU (default) or the JavaScript's")
    ap.add_argument("--scan", type=int, default=0, help="scan this many LFW photos and list candidates")
    args = ap.parse_args()
    packs = [InsightfacePack(args.models), OpenPack(args.models, args.open_nms)]

    if args.scan:
        files = sorted((args.datasets / "lfw").glob("*/*.jpg"))[: args.scan]
        for f in files:
            rgb = load_rgb(f)
            notes = []
            for pack in packs:
                r = pack.main_face(rgb)
                if r is None:
                    notes.append(f"{pack.name}:none")
                elif r["padded_retry"] or r["face_count"] > 1:
                    notes.append(f"{pack.name}:faces={r['face_count']},pad={r['padded_retry']}")
            if notes:
                print(f.relative_to(args.datasets), " ".join(notes), flush=True)
        return 0

    images = []
    for rel in IMAGES:
        rgb = load_rgb(args.datasets / rel)
        entry = {"path": rel, "width": rgb.shape[1], "height": rgb.shape[0], "packs": {}}
        for pack in packs:
            r = pack.main_face(rgb)
            if r is None:
                raise SystemExit(f"{rel}: pack {pack.name} found no face")
            entry["packs"][pack.name] = rounded(r)
            print(f"{rel} {pack.name}: faces={r['face_count']} pad={r['padded_retry']} "
                  f"box={np.round(r['box'], 1).tolist()} score={r['score']:.3f}", file=sys.stderr)
        images.append(entry)
    doc = {
        "generator": "scripts/reference/pipeline_reference.py",
        "opencv": cv2.__version__,
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
        "main_face": "centered",
        "open_nms": "score_iou" if args.open_nms == "score" else "js_bottom_edge",
        "images": images,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(to_json(doc))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
