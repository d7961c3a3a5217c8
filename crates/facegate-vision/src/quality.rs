//! A model-free face quality estimate: is this face worth embedding and enrolling?
//!
//! Four signals, each mapped to a sub-score in 0..1 and multiplied into [`Quality::score`],
//! so that any single disqualifying signal (a tiny face, a blurred crop, a profile) pulls
//! the whole score down, whatever the others say:
//!
//! * **size**: the inter-ocular distance in image pixels. The embedders see a 112x112
//!   crop with 35.2 px between the eyes (the `ArcFace` template); a face with fewer pixels is
//!   upsampled into it and loses detail in proportion. 0 at 12 px or less (a face about
//!   30 px wide, where the crop is mostly interpolation), 1 from 35 px.
//! * **sharpness**: the variance of the Laplacian of the grey aligned crop (the classic
//!   focus measure). See [`SHARPNESS_BLURRED`] for how its thresholds were measured.
//! * **pose**: a landmark yaw ratio (the nose tip's offset from the eye midpoint along the
//!   eye line, in half inter-ocular distances). 1 up to 0.25, 0 from 0.9; see
//!   [`YAW_FRONTAL`].
//! * **detection**: the detector's confidence, used as is.

use facegate_core::{FaceDetection, Point};
use image::RgbImage;
use serde::Serialize;

/// Inter-ocular distance (px) at or below which the size sub-score is 0.
pub const IOD_TOO_SMALL: f32 = 12.0;
/// Inter-ocular distance (px) from which the size sub-score is 1: the template's own
/// distance, `73.5318 - 38.2946`, so larger faces are only downsampled.
pub const IOD_ENOUGH: f32 = 35.0;

/// Laplacian variance at or below which the sharpness sub-score is 0, and
/// [`SHARPNESS_SHARP`] from which it is 1. Measured on the aligned 112x112 crops of 408
/// LFW photos (original 250x250 JPEGs, about 41 px between the eyes): 10th percentile 82,
/// median 184; the same crops blurred with a Gaussian of sigma 1 px: median 43, 90th
/// percentile 75; sigma 2 px: median 9. So a typical sigma-1 blur scores about 0.05, an
/// ordinary LFW photo 1, and the softest tenth of LFW about 0.7.
pub const SHARPNESS_BLURRED: f32 = 40.0;
pub const SHARPNESS_SHARP: f32 = 100.0;

/// Yaw ratio up to which the pose sub-score is 1, and [`YAW_PROFILE`] from which it is 0.
/// Against the Hopenet pose model on 408 LFW faces (detector landmarks), the median yaw
/// ratio is 0.08 at |yaw| < 5 degrees, 0.27 at 15-20, 0.38 at 20-25 and 0.57 at 30-40
/// (about `0.9 * tan(yaw)`): 0.25 is about 15 degrees, 0.9 about 45 degrees, where the
/// nose tip reaches the far eye and frontal-trained embedders lose most of their accuracy.
pub const YAW_FRONTAL: f32 = 0.25;
pub const YAW_PROFILE: f32 = 0.9;

/// How usable a face is for recognition, with the measurements behind the score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quality {
    /// Product of the size, sharpness, pose and detection sub-scores, in 0..1.
    pub score: f32,
    /// Distance between the eye centres in image pixels.
    pub face_size_px: f32,
    /// Variance of the Laplacian of the grey aligned crop's central region.
    pub sharpness: f32,
    /// 0 for a frontal face, about 1 when the nose tip lies in front of an eye (a
    /// half-profile of about 45 degrees); larger beyond.
    pub yaw_ratio: f32,
    /// The detector's confidence in 0..1.
    pub detector_score: f32,
}

/// Measures the quality of `face` in `image`, with `aligned` its aligned crop (normally
/// the 112x112 crop fed to the embedder).
/// `_image` is not read today: every signal comes from the landmarks and the crop.
pub fn face_quality(_image: &RgbImage, face: &FaceDetection, aligned: &RgbImage) -> Quality {
    let face_size_px = eye_distance(face);
    let sharpness = laplacian_variance(aligned);
    let yaw_ratio = face.landmarks.yaw_ratio();
    let detector_score = face.score.clamp(0.0, 1.0);
    let score = ramp(face_size_px, IOD_TOO_SMALL, IOD_ENOUGH)
        * ramp(sharpness, SHARPNESS_BLURRED, SHARPNESS_SHARP)
        * (1.0 - ramp(yaw_ratio, YAW_FRONTAL, YAW_PROFILE))
        * detector_score;
    Quality {
        score,
        face_size_px,
        sharpness,
        yaw_ratio,
        detector_score,
    }
}

/// 0 at or below `lo`, 1 at or above `hi`, linear between.
fn ramp(value: f32, lo: f32, hi: f32) -> f32 {
    if value.is_nan() {
        return 0.0;
    }
    ((value - lo) / (hi - lo)).clamp(0.0, 1.0)
}

/// Inter-ocular distance of a face, in image pixels.
pub fn eye_distance(face: &FaceDetection) -> f32 {
    let [left, right, ..] = face.landmarks.0;
    distance(left, right)
}

fn distance(a: Point, b: Point) -> f32 {
    (a.x - b.x).hypot(a.y - b.y)
}

/// Variance of the 4-neighbour Laplacian (`OpenCV`'s `Laplacian` with `ksize=1`) of the grey
/// image (BT.601 weights, 0..255), over the central region that leaves out an eighth of
/// each side: the aligned crop's corners hold background and, near image borders, the
/// warp's black fill, whose hard edge would read as detail.
pub fn laplacian_variance(image: &RgbImage) -> f32 {
    let (w, h) = image.dimensions();
    let (mx, my) = ((w / 8).max(1), (h / 8).max(1));
    if w < 2 * mx + 1 || h < 2 * my + 1 {
        return 0.0;
    }
    let grey = |x: u32, y: u32| -> f64 {
        let [r, g, b] = image.get_pixel(x, y).0;
        0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b)
    };
    let (mut sum, mut sum_sq, mut n) = (0.0_f64, 0.0_f64, 0.0_f64);
    for y in my..h - my {
        for x in mx..w - mx {
            let lap = grey(x - 1, y) + grey(x + 1, y) + grey(x, y - 1) + grey(x, y + 1)
                - 4.0 * grey(x, y);
            sum += lap;
            sum_sq += lap * lap;
            n += 1.0;
        }
    }
    let mean = sum / n;
    (sum_sq / n - mean * mean) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use facegate_core::{BoundingBox, Landmarks5};

    /// A 112x112 pattern with detail at several scales: a checkerboard of 4 px squares
    /// under a diagonal gradient.
    fn pattern() -> RgbImage {
        RgbImage::from_fn(112, 112, |x, y| {
            let check = if (x / 4 + y / 4) % 2 == 0 { 60 } else { 0 };
            let v = (x + y) as u8 / 2 + check;
            image::Rgb([v, v.saturating_add(10), v / 2])
        })
    }

    /// A 5x5 box blur, repeated `passes` times.
    fn blurred(src: &RgbImage, passes: usize) -> RgbImage {
        let mut img = src.clone();
        for _ in 0..passes {
            let prev = img.clone();
            let (w, h) = prev.dimensions();
            img = RgbImage::from_fn(w, h, |x, y| {
                let mut acc = [0u32; 3];
                let mut n = 0;
                for dy in -2_i64..=2 {
                    for dx in -2_i64..=2 {
                        let (sx, sy) = (i64::from(x) + dx, i64::from(y) + dy);
                        if sx >= 0 && sy >= 0 && sx < i64::from(w) && sy < i64::from(h) {
                            let p = prev.get_pixel(sx as u32, sy as u32).0;
                            for c in 0..3 {
                                acc[c] += u32::from(p[c]);
                            }
                            n += 1;
                        }
                    }
                }
                image::Rgb(acc.map(|v| (v / n) as u8))
            });
        }
        img
    }

    fn face(left: (f32, f32), right: (f32, f32), nose: (f32, f32), score: f32) -> FaceDetection {
        let p = |(x, y): (f32, f32)| Point::new(x, y);
        FaceDetection {
            bbox: BoundingBox::new(0.0, 0.0, 200.0, 200.0),
            score,
            landmarks: Landmarks5([
                p(left),
                p(right),
                p(nose),
                p((left.0, nose.1 + 20.0)),
                p((right.0, nose.1 + 20.0)),
            ]),
        }
    }

    #[test]
    fn a_sharp_pattern_is_sharper_than_its_blurred_copy() {
        let sharp = pattern();
        let soft = blurred(&sharp, 1);
        let softer = blurred(&sharp, 3);
        let (s0, s1, s2) = (
            laplacian_variance(&sharp),
            laplacian_variance(&soft),
            laplacian_variance(&softer),
        );
        assert!(s0 > 4.0 * s1, "sharp {s0} vs blurred {s1}");
        assert!(s1 > s2, "blur once {s1} vs three times {s2}");
        assert!(
            laplacian_variance(&RgbImage::from_pixel(112, 112, image::Rgb([90, 90, 90]))) < 1e-6
        );
    }

    #[test]
    fn laplacian_variance_matches_a_hand_computed_value() {
        // Vertical stripes 0,255,0,255...: the Laplacian is -510 on 255 columns and +510
        // on 0 columns, half each, so its variance is 510^2.
        let img = RgbImage::from_fn(16, 16, |x, _| {
            let v = if x % 2 == 0 { 0 } else { 255 };
            image::Rgb([v, v, v])
        });
        let v = laplacian_variance(&img);
        assert!((v - 510.0 * 510.0).abs() < 1.0, "{v}");
    }

    #[test]
    fn score_combines_the_sub_scores() {
        let sharp = pattern();
        let image = RgbImage::new(200, 200);
        let good = face_quality(
            &image,
            &face((80.0, 100.0), (120.0, 100.0), (101.0, 125.0), 0.99),
            &sharp,
        );
        assert!((good.face_size_px - 40.0).abs() < 1e-4);
        assert!((good.detector_score - 0.99).abs() < 1e-6);
        assert!((good.score - 0.99).abs() < 1e-4, "{good:?}");

        // Each weak signal lowers the score on its own.
        let small = face_quality(
            &image,
            &face((95.0, 100.0), (115.0, 100.0), (105.0, 110.0), 0.99),
            &sharp,
        );
        assert!(
            (small.score - 0.99 * (20.0 - 12.0) / 23.0).abs() < 1e-3,
            "{small:?}"
        );
        let turned = face_quality(
            &image,
            &face((80.0, 100.0), (120.0, 100.0), (117.0, 125.0), 0.99),
            &sharp,
        );
        assert!(turned.score < 0.1, "{turned:?}");
        let flat = RgbImage::from_pixel(112, 112, image::Rgb([128, 128, 128]));
        let blurry = face_quality(
            &image,
            &face((80.0, 100.0), (120.0, 100.0), (101.0, 125.0), 0.99),
            &flat,
        );
        assert!(blurry.score.abs() < 1e-6, "{blurry:?}");
        let tiny = face_quality(
            &image,
            &face((100.0, 100.0), (110.0, 100.0), (105.0, 105.0), 0.99),
            &sharp,
        );
        assert!(tiny.score.abs() < 1e-6, "{tiny:?}");
        for q in [good, small, turned, blurry, tiny] {
            assert!((0.0..=1.0).contains(&q.score));
        }
    }
}
