//! Five-point similarity alignment to the 112x112 ArcFace template.

use facegate_core::{Landmarks5, Point};
use image::RgbImage;

/// Side of the aligned face crop.
pub const ALIGNED_SIZE: u32 = 112;

/// Where the five landmarks land in the 112x112 ArcFace crop.
pub const ARCFACE_TEMPLATE: [Point; 5] = [
    Point::new(38.2946, 51.6963),
    Point::new(73.5318, 51.5014),
    Point::new(56.0252, 71.7366),
    Point::new(41.5493, 92.3655),
    Point::new(70.7299, 92.2041),
];

/// Side of dlib's face chip (`get_face_chip_details(shape, 150, 0.25)`).
pub const DLIB_CHIP_SIZE: u32 = 150;

/// Where the five landmarks land in dlib's 150x150 chip: the mean, over LFW faces, of the
/// open pack's landmarks mapped into the chip that dlib's own 5-point model and template
/// give (scripts/reference/dlib_chip_template.py).
pub const DLIB_CHIP_TEMPLATE: [Point; 5] = [
    Point::new(47.938, 46.027),
    Point::new(101.920, 46.048),
    Point::new(74.939, 77.396),
    Point::new(50.138, 104.784),
    Point::new(98.566, 104.727),
];

/// A similarity transform `p' = [[a, -b], [b, a]] p + t` (rotation, uniform scale,
/// translation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f64,
    pub b: f64,
    pub tx: f64,
    pub ty: f64,
}

impl Similarity {
    /// The least-squares similarity taking `src` onto `dst` (Umeyama's estimate without
    /// reflection; in 2-D it has this closed form).
    pub fn estimate(src: &[Point], dst: &[Point]) -> Option<Self> {
        let n = src.len().min(dst.len());
        if n < 2 {
            return None;
        }
        let mean = |pts: &[Point]| {
            let (sx, sy) = pts[..n].iter().fold((0.0, 0.0), |(x, y), p| {
                (x + f64::from(p.x), y + f64::from(p.y))
            });
            (sx / n as f64, sy / n as f64)
        };
        let (msx, msy) = mean(src);
        let (mdx, mdy) = mean(dst);
        let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
        for (s, d) in src[..n].iter().zip(&dst[..n]) {
            let (xs, ys) = (f64::from(s.x) - msx, f64::from(s.y) - msy);
            let (xd, yd) = (f64::from(d.x) - mdx, f64::from(d.y) - mdy);
            dot += xs * xd + ys * yd;
            cross += xs * yd - ys * xd;
            norm += xs * xs + ys * ys;
        }
        if norm <= f64::EPSILON {
            return None;
        }
        let (a, b) = (dot / norm, cross / norm);
        Some(Self {
            a,
            b,
            tx: mdx - (a * msx - b * msy),
            ty: mdy - (b * msx + a * msy),
        })
    }

    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.a * x - self.b * y + self.tx,
            self.b * x + self.a * y + self.ty,
        )
    }

    pub fn inverse(&self) -> Option<Self> {
        let det = self.a * self.a + self.b * self.b;
        if det <= f64::EPSILON {
            return None;
        }
        let (a, b) = (self.a / det, -self.b / det);
        Some(Self {
            a,
            b,
            tx: -(a * self.tx - b * self.ty),
            ty: -(b * self.tx + a * self.ty),
        })
    }

    /// The uniform scale factor.
    pub fn scale(&self) -> f64 {
        self.a.hypot(self.b)
    }
}

/// Aligns the face with these landmarks to a 112x112 crop. `None` when the landmarks are
/// degenerate (all in one point).
pub fn align_face(image: &RgbImage, landmarks: &Landmarks5) -> Option<RgbImage> {
    let transform = Similarity::estimate(&landmarks.0, &ARCFACE_TEMPLATE)?;
    warp(image, &transform, ALIGNED_SIZE, ALIGNED_SIZE)
}

/// dlib's 150x150 chip of a face, warped from its 112x112 ArcFace crop (`None` only if the
/// templates were degenerate).
pub fn dlib_chip(aligned: &RgbImage) -> Option<RgbImage> {
    let transform = Similarity::estimate(&ARCFACE_TEMPLATE, &DLIB_CHIP_TEMPLATE)?;
    warp(aligned, &transform, DLIB_CHIP_SIZE, DLIB_CHIP_SIZE)
}

/// Warps `src` by `transform` (source -> destination) into a `width` x `height` image with
/// bilinear sampling and a black border, as OpenCV's `warpAffine` does.
pub fn warp(src: &RgbImage, transform: &Similarity, width: u32, height: u32) -> Option<RgbImage> {
    let inv = transform.inverse()?;
    let (sw, sh) = (i64::from(src.width()), i64::from(src.height()));
    let raw = src.as_raw();
    let at = |x: i64, y: i64| ((y * sw + x) * 3) as usize;
    let fetch = |x: i64, y: i64, c: usize| -> f64 {
        if x < 0 || y < 0 || x >= sw || y >= sh {
            0.0
        } else {
            f64::from(raw[at(x, y) + c])
        }
    };
    let mut out = RgbImage::new(width, height);
    for (u, v, px) in out.enumerate_pixels_mut() {
        let (sx, sy) = inv.apply(f64::from(u), f64::from(v));
        let (x0, y0) = (floor(sx), floor(sy));
        let (fx, fy) = (sx - x0 as f64, sy - y0 as f64);
        let inside = x0 >= 0 && y0 >= 0 && x0 + 1 < sw && y0 + 1 < sh;
        for c in 0..3 {
            let [p00, p10, p01, p11] = if inside {
                let (top, bottom) = (at(x0, y0) + c, at(x0, y0 + 1) + c);
                [raw[top], raw[top + 3], raw[bottom], raw[bottom + 3]].map(f64::from)
            } else {
                [
                    fetch(x0, y0, c),
                    fetch(x0 + 1, y0, c),
                    fetch(x0, y0 + 1, c),
                    fetch(x0 + 1, y0 + 1, c),
                ]
            };
            let top = p00 * (1.0 - fx) + p10 * fx;
            let bottom = p01 * (1.0 - fx) + p11 * fx;
            px.0[c] = round_to_u8(top * (1.0 - fy) + bottom * fy);
        }
    }
    Some(out)
}

/// `x.floor()` as an integer, without the libm call that `f64::floor` is on CPUs without
/// SSE4.1 (the x86-64 baseline): the warp's hot loop calls it twice a pixel.
fn floor(x: f64) -> i64 {
    let t = x as i64;
    if (t as f64) > x { t - 1 } else { t }
}

/// `x.round().clamp(0.0, 255.0) as u8` (halves away from zero) without libm, as [`floor`].
fn round_to_u8(x: f64) -> u8 {
    let clamped = x.clamp(0.0, 255.0);
    let t = clamped as u8;
    if clamped - f64::from(t) >= 0.5 {
        t + 1
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_similarity() {
        let truth = Similarity {
            a: 0.8,
            b: 0.3,
            tx: 5.0,
            ty: -7.0,
        };
        let src = ARCFACE_TEMPLATE;
        let dst = src.map(|p| {
            let (x, y) = truth.apply(f64::from(p.x), f64::from(p.y));
            Point::new(x as f32, y as f32)
        });
        let est = Similarity::estimate(&src, &dst).unwrap();
        assert!((est.a - 0.8).abs() < 1e-4 && (est.b - 0.3).abs() < 1e-4);
        assert!((est.tx - 5.0).abs() < 1e-3 && (est.ty + 7.0).abs() < 1e-3);
        let back = est.inverse().unwrap();
        let (x, y) = back.apply(est.apply(10.0, 20.0).0, est.apply(10.0, 20.0).1);
        assert!((x - 10.0).abs() < 1e-9 && (y - 20.0).abs() < 1e-9);
    }

    #[test]
    fn floor_and_rounding_match_the_float_functions() {
        for x in [
            -2.5, -1.0, -0.7, -0.0, 0.0, 0.3, 0.5, 1.0, 2.49, 2.5, 254.5, 254.6, 300.0,
        ] {
            assert_eq!(floor(x), x.floor() as i64, "floor({x})");
            assert_eq!(
                round_to_u8(x),
                x.round().clamp(0.0, 255.0) as u8,
                "round({x})"
            );
        }
        assert_eq!(round_to_u8(f64::NAN), 0);
    }

    #[test]
    fn identity_warp_copies_pixels() {
        let mut img = RgbImage::new(112, 112);
        img.put_pixel(40, 50, image::Rgb([200, 100, 50]));
        let lm = Landmarks5(ARCFACE_TEMPLATE);
        let out = align_face(&img, &lm).unwrap();
        assert_eq!(out.get_pixel(40, 50).0, [200, 100, 50]);
        assert_eq!(out.get_pixel(41, 50).0, [0, 0, 0]);
    }

    #[test]
    fn the_dlib_chip_puts_each_arcface_landmark_near_its_place_in_dlibs_template() {
        // The five points of the ArcFace crop, marked, must land where dlib's chip has them:
        // the two templates differ by a similarity up to a few pixels.
        let mut crop = RgbImage::new(ALIGNED_SIZE, ALIGNED_SIZE);
        for p in ARCFACE_TEMPLATE {
            crop.put_pixel(p.x.round() as u32, p.y.round() as u32, image::Rgb([255; 3]));
        }
        let chip = dlib_chip(&crop).unwrap();
        assert_eq!(chip.dimensions(), (DLIB_CHIP_SIZE, DLIB_CHIP_SIZE));
        for want in DLIB_CHIP_TEMPLATE {
            let brightest = (-4..=4)
                .flat_map(|dy| (-4..=4).map(move |dx| (dx, dy)))
                .max_by_key(|&(dx, dy)| {
                    let x = (want.x.round() as i32 + dx) as u32;
                    let y = (want.y.round() as i32 + dy) as u32;
                    chip.get_pixel(x, y).0[0]
                })
                .unwrap();
            let (x, y) = (
                want.x.round() as i32 + brightest.0,
                want.y.round() as i32 + brightest.1,
            );
            assert!(
                chip.get_pixel(x as u32, y as u32).0[0] > 40,
                "nothing near {want:?}"
            );
        }
    }

    #[test]
    fn degenerate_landmarks_are_refused() {
        let lm = Landmarks5([Point::new(3.0, 3.0); 5]);
        assert!(align_face(&RgbImage::new(20, 20), &lm).is_none());
    }
}
