//! Faces turned in the image plane: a photo taken sideways or upside down, or a head
//! tilted far over. When the upright image shows no face, or one the detector doubts (it
//! finds upside-down faces but places their landmarks as if upright, with a lower score),
//! turned copies are searched and what they find is mapped back onto the original, where
//! alignment (a similarity from the five landmarks) undoes the turn.

use facegate_core::{BoundingBox, FaceDetection, Landmarks5, Point};
use image::RgbImage;

use super::Detector;
use crate::align::{Similarity, warp};
use crate::{VisionError, imgproc};

/// The turns tried, in degrees, in order: a sideways photo, either way; upside down; a
/// head tilted over, either way.
pub const TURNS: [f64; 5] = [90.0, -90.0, 180.0, 45.0, -45.0];

/// Longest side of the searched copies: above any detector input of the main-face path,
/// and it bounds the cost of each turn whatever the photo's size.
const SEARCHED_SIDE: u32 = 640;

/// Below this detector score an upright search's main face may be a turned one that the
/// detector took for upright (its landmarks placed as if it were): turned copies are
/// searched too. Upright LFW faces score 0.67-0.84 with SCRFD, faces turned by 90 or 180
/// degrees 0.50-0.78.
pub const DOUBTFUL_SCORE: f32 = 0.72;

/// How much more a turned copy's best face must score than a doubtful upright one to be
/// taken instead: a face shown upright scores about 0.15 more than its turned self, and
/// an upright face's own turned copies score less than it.
pub const TURNED_MARGIN: f32 = 0.1;

/// The faces of the turn of [`TURNS`] whose best face scores highest, above `beat`, in the
/// original's coordinates; none when no turn beats it.
pub fn detect_turned(
    detector: &mut dyn Detector,
    image: &RgbImage,
    input: u32,
    beat: f32,
) -> Result<Vec<FaceDetection>, VisionError> {
    let (small, shrink) = imgproc::fit_within(image, SEARCHED_SIDE);
    let mut best: Option<(f32, Vec<FaceDetection>, Similarity)> = None;
    for degrees in TURNS {
        let (turn, width, height) = turn_about_centre(&small, degrees);
        let Some(turned) = warp(&small, &turn, width, height) else {
            continue;
        };
        let faces = detector.detect(&turned, input)?;
        let top = faces
            .iter()
            .map(|f| f.score)
            .fold(f32::NEG_INFINITY, f32::max);
        if top > best.as_ref().map_or(beat, |(score, ..)| *score) {
            best = Some((top, faces, turn));
        }
    }
    let Some((_, faces, turn)) = best else {
        return Ok(Vec::new());
    };
    let Some(back) = turn.inverse() else {
        return Ok(Vec::new());
    };
    let to_original = |p: Point| {
        let (x, y) = back.apply(f64::from(p.x), f64::from(p.y));
        Point::new((x * shrink) as f32, (y * shrink) as f32)
    };
    Ok(faces.into_iter().map(|f| mapped(&f, to_original)).collect())
}

/// The rotation by `degrees` about the image's centre onto a canvas that holds the whole
/// turned image, and the canvas's size.
pub fn turn_about_centre(image: &RgbImage, degrees: f64) -> (Similarity, u32, u32) {
    let (w, h) = (f64::from(image.width()), f64::from(image.height()));
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (width, height) = (
        (w * cos.abs() + h * sin.abs()).round().max(1.0),
        (w * sin.abs() + h * cos.abs()).round().max(1.0),
    );
    let mut turn = Similarity {
        a: cos,
        b: sin,
        tx: 0.0,
        ty: 0.0,
    };
    let (cx, cy) = turn.apply(w / 2.0, h / 2.0);
    turn.tx = width / 2.0 - cx;
    turn.ty = height / 2.0 - cy;
    (turn, width as u32, height as u32)
}

/// A detection with its landmarks moved by `map`, and its box the upright bounds of the
/// moved corners.
fn mapped(face: &FaceDetection, map: impl Fn(Point) -> Point) -> FaceDetection {
    let b = face.bbox;
    let corners = [
        Point::new(b.x1, b.y1),
        Point::new(b.x2, b.y1),
        Point::new(b.x1, b.y2),
        Point::new(b.x2, b.y2),
    ]
    .map(&map);
    let xs = corners.map(|p| p.x);
    let ys = corners.map(|p| p.y);
    let min = |v: [f32; 4]| v.into_iter().fold(f32::INFINITY, f32::min);
    let max = |v: [f32; 4]| v.into_iter().fold(f32::NEG_INFINITY, f32::max);
    FaceDetection {
        bbox: BoundingBox::new(min(xs), min(ys), max(xs), max(ys)),
        score: face.score,
        landmarks: Landmarks5(face.landmarks.0.map(&map)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_turn_maps_back_onto_the_original() {
        let image = RgbImage::new(200, 100);
        let (turn, width, height) = turn_about_centre(&image, 90.0);
        assert_eq!((width, height), (100, 200));
        let back = turn.inverse().unwrap();
        // Every corner of the original lands on a corner of the canvas and comes back.
        for (x, y) in [(0.0, 0.0), (200.0, 0.0), (0.0, 100.0), (200.0, 100.0)] {
            let (u, v) = turn.apply(x, y);
            assert!(
                (u.abs() < 1e-9 || (u - 100.0).abs() < 1e-9)
                    && (v.abs() < 1e-9 || (v - 200.0).abs() < 1e-9),
                "({x}, {y}) -> ({u}, {v})"
            );
            let (bx, by) = back.apply(u, v);
            assert!((bx - x).abs() < 1e-9 && (by - y).abs() < 1e-9);
        }
    }

    #[test]
    fn a_mapped_box_bounds_the_mapped_corners() {
        let face = FaceDetection {
            bbox: BoundingBox::new(10.0, 20.0, 30.0, 60.0),
            score: 0.9,
            landmarks: Landmarks5([Point::new(15.0, 30.0); 5]),
        };
        // A quarter turn of a 100-pixel-high image: (x, y) -> (100 - y, x).
        let moved = mapped(&face, |p| Point::new(100.0 - p.y, p.x));
        assert_eq!(moved.bbox, BoundingBox::new(40.0, 10.0, 80.0, 30.0));
        assert_eq!(moved.landmarks.0[0], Point::new(70.0, 15.0));
        assert!((moved.score - 0.9).abs() < f32::EPSILON);
    }
}
