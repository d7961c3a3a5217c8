//! Facial symmetry of one face, from two independent cues:
//!
//! - **appearance**: the aligned 112x112 face (5-point similarity to the ArcFace template,
//!   whose points are symmetric about the crop's centre column) against its mirror image:
//!   grey levels are standardised over the face's interior, and the mean absolute
//!   difference between each pixel and its mirror partner is mapped to 0..1, where 1 is a
//!   perfect mirror image and 0 the difference of two unrelated images (the mean absolute
//!   difference of two independent standard normal values, 2/sqrt(pi));
//! - **landmarks**: the nose and the mouth corners reflected across the eyes'
//!   perpendicular bisector, their mismatch measured in inter-ocular distances and mapped
//!   to 0..1 (1: perfectly placed; 0: a mismatch of a quarter of the eye distance or more).
//!
//! The score is their mean on 0..100. It measures the photo as much as the face: a turned
//! head, side lighting or an occlusion lower it, so compare frontal, evenly lit photos.

use facegate_core::face::{Landmarks5, Point};
use facegate_core::ports::Symmetry;
use image::RgbImage;

/// Columns `MARGIN_X..CROP - MARGIN_X` and rows `TOP..BOTTOM` of the aligned crop: the
/// face's interior, symmetric about the centre column.
const CROP: u32 = 112;
const MARGIN_X: u32 = 12;
const TOP: u32 = 8;
const BOTTOM: u32 = 104;

/// Mean absolute difference of two independent standard normal values: 2/sqrt(pi).
const UNRELATED_MAD: f32 = std::f32::consts::FRAC_2_SQRT_PI;

/// Landmark mismatch (in inter-ocular distances) that scores 0.
const MAX_LANDMARK_MISMATCH: f32 = 0.25;

fn grey(image: &RgbImage, x: u32, y: u32) -> f32 {
    let p = image.get_pixel(x, y).0;
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
}

/// Mirror symmetry of an aligned face crop, 0..1.
pub fn appearance(aligned: &RgbImage) -> f32 {
    if aligned.width() != CROP || aligned.height() < BOTTOM {
        return 0.0;
    }
    let xs = MARGIN_X..CROP - MARGIN_X;
    let values: Vec<f32> = (TOP..BOTTOM)
        .flat_map(|y| xs.clone().map(move |x| (x, y)))
        .map(|(x, y)| grey(aligned, x, y))
        .collect();
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
    if std < 1e-3 {
        // A flat crop is trivially symmetric but holds no face to judge.
        return 0.0;
    }
    let width = xs.len();
    let mad = values
        .chunks(width)
        .flat_map(|row| row.iter().zip(row.iter().rev()))
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / n
        / std;
    (1.0 - mad / UNRELATED_MAD).clamp(0.0, 1.0)
}

fn sub(a: Point, b: Point) -> Point {
    Point::new(a.x - b.x, a.y - b.y)
}

fn norm(p: Point) -> f32 {
    p.x.hypot(p.y)
}

/// Placement symmetry of the nose and mouth corners about the eyes' axis, 0..1.
pub fn landmarks(points: &Landmarks5) -> f32 {
    let [left_eye, right_eye, nose, mouth_left, mouth_right] = points.0;
    let eyes = sub(right_eye, left_eye);
    let iod = norm(eyes);
    if iod < 1e-3 {
        return 0.0;
    }
    let u = Point::new(eyes.x / iod, eyes.y / iod);
    let middle = Point::new(
        f32::midpoint(left_eye.x, right_eye.x),
        f32::midpoint(left_eye.y, right_eye.y),
    );
    // Reflection across the line through `middle` perpendicular to the eyes.
    let reflect = |p: Point| {
        let d = sub(p, middle);
        let along = d.x * u.x + d.y * u.y;
        Point::new(p.x - 2.0 * along * u.x, p.y - 2.0 * along * u.y)
    };
    let mouth = norm(sub(reflect(mouth_left), mouth_right));
    let nose = norm(sub(reflect(nose), nose));
    let mismatch = (mouth + nose) / (2.0 * iod);
    (1.0 - mismatch / MAX_LANDMARK_MISMATCH).clamp(0.0, 1.0)
}

/// Both cues and their score on 0..100.
pub fn measure(aligned: &RgbImage, points: &Landmarks5) -> Symmetry {
    let appearance = appearance(aligned);
    let landmarks = landmarks(points);
    Symmetry {
        score: 50.0 * (appearance + landmarks),
        appearance,
        landmarks,
    }
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;

    fn crop(f: impl Fn(u32, u32) -> u8) -> RgbImage {
        RgbImage::from_fn(CROP, CROP, |x, y| {
            let v = f(x, y);
            Rgb([v, v, v])
        })
    }

    #[test]
    fn a_mirror_image_scores_one_and_noise_about_zero() {
        let symmetric = crop(|x, y| ((x.min(CROP - 1 - x) * 5 + y * 2) % 256) as u8);
        assert!((appearance(&symmetric) - 1.0).abs() < 1e-6);
        // Independent pseudo-random values left and right.
        let mut state = 12_345_u32;
        let noise: Vec<u8> = (0..CROP * CROP)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 16) as u8
            })
            .collect();
        let noisy = crop(|x, y| noise[(y * CROP + x) as usize]);
        assert!(appearance(&noisy) < 0.1, "{}", appearance(&noisy));
        // One half darker: less symmetric, not zero.
        let lit = crop(|x, y| {
            let base = ((x.min(CROP - 1 - x) * 5 + y * 2) % 200) as u8;
            if x < CROP / 2 { base } else { base / 2 }
        });
        let a = appearance(&lit);
        assert!(a > 0.1 && a < 0.9, "{a}");
        assert!(appearance(&crop(|_, _| 128)).abs() < f32::EPSILON);
    }

    #[test]
    fn landmarks_score_the_mouth_and_nose_against_the_eyes() {
        let p = |x, y| Point::new(x, y);
        let frontal = Landmarks5([
            p(40.0, 50.0),
            p(70.0, 50.0),
            p(55.0, 70.0),
            p(43.0, 90.0),
            p(67.0, 90.0),
        ]);
        assert!((landmarks(&frontal) - 1.0).abs() < 1e-6);
        // The same face rotated by 30 degrees stays symmetric.
        let (s, c) = 30f32.to_radians().sin_cos();
        let rotated = Landmarks5(frontal.0.map(|q| p(q.x * c - q.y * s, q.x * s + q.y * c)));
        assert!((landmarks(&rotated) - 1.0).abs() < 1e-4);
        // Nose and mouth pulled 6 px (a fifth of the eye distance) to one side.
        let mut skewed = frontal;
        for i in 2..5 {
            skewed.0[i].x += 6.0;
        }
        let l = landmarks(&skewed);
        assert!(l < 0.5, "{l}");
        assert!(measure(&crop(|_, _| 0), &skewed).score < measure(&crop(|_, _| 0), &frontal).score);
    }
}
