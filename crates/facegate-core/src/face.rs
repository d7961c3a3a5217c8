//! Face geometry and embeddings.

use serde::{Deserialize, Serialize};

/// A point in image pixel coordinates (x to the right, y down).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }
}

/// An axis-aligned box in image pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct BoundingBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BoundingBox {
    pub const fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }

    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    pub fn center(&self) -> Point {
        Point::new(
            f32::midpoint(self.x1, self.x2),
            f32::midpoint(self.y1, self.y2),
        )
    }

    /// The area both boxes cover.
    pub fn intersection(&self, other: &BoundingBox) -> f32 {
        let w = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let h = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        w * h
    }

    /// Intersection over union with another box.
    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let inter = self.intersection(other);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// The five facial landmarks used for alignment, in this order: left eye, right eye
/// (as seen in the image), nose tip, left mouth corner, right mouth corner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Landmarks5(pub [Point; 5]);

impl Landmarks5 {
    /// How far the head is turned: the nose tip's offset from the eye midpoint, projected on
    /// the eye line (so that a tilted head does not count as turned), in units of half the
    /// inter-ocular distance. 0 for a frontal face, about 0.6 at 30-40 degrees of yaw and 1
    /// when the nose tip reaches the far eye (about 45 degrees); larger beyond. Degenerate
    /// eyes (closer than a pixel) count as a profile.
    pub fn yaw_ratio(&self) -> f32 {
        let [left_eye, right_eye, nose, _, _] = self.0;
        let (ex, ey) = (right_eye.x - left_eye.x, right_eye.y - left_eye.y);
        let iod = ex.hypot(ey);
        if iod.is_nan() || iod < 1.0 {
            return f32::INFINITY;
        }
        let mid = Point::new(
            f32::midpoint(left_eye.x, right_eye.x),
            f32::midpoint(left_eye.y, right_eye.y),
        );
        let along = ((nose.x - mid.x) * ex + (nose.y - mid.y) * ey) / iod;
        (along / (iod / 2.0)).abs()
    }
}

/// One detected face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceDetection {
    pub bbox: BoundingBox,
    /// Detector confidence in 0..1.
    pub score: f32,
    pub landmarks: Landmarks5,
}

impl FaceDetection {
    /// The same face in coordinates where every point `p` becomes `p * scale + (dx, dy)`.
    #[must_use]
    pub fn mapped(&self, scale: f32, dx: f32, dy: f32) -> Self {
        let map = |p: Point| Point::new(p.x * scale + dx, p.y * scale + dy);
        let (a, b) = (
            map(Point::new(self.bbox.x1, self.bbox.y1)),
            map(Point::new(self.bbox.x2, self.bbox.y2)),
        );
        Self {
            bbox: BoundingBox::new(a.x, a.y, b.x, b.y),
            score: self.score,
            landmarks: Landmarks5(self.landmarks.0.map(map)),
        }
    }
}

/// Identifies the model (and its version) that produced an embedding. Embeddings of
/// different models live in different spaces and must never be compared.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelId(pub String);

impl std::fmt::Display for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An L2-normalised face embedding tagged with the model that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    model: ModelId,
    vector: Vec<f32>,
}

impl Embedding {
    /// Builds an embedding from a raw model output, normalising it to unit length.
    /// Returns `None` for an empty or all-zero (or non-finite) vector.
    pub fn from_raw(model: ModelId, mut vector: Vec<f32>) -> Option<Self> {
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        if vector.is_empty() || !norm.is_finite() || norm <= f32::EPSILON {
            return None;
        }
        for v in &mut vector {
            *v /= norm;
        }
        Some(Self { model, vector })
    }

    pub fn model(&self) -> &ModelId {
        &self.model
    }

    pub fn vector(&self) -> &[f32] {
        &self.vector
    }

    pub fn dim(&self) -> usize {
        self.vector.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaw(left: Point, right: Point, nose: Point) -> f32 {
        let mouth = Point::new(0.0, 0.0);
        Landmarks5([left, right, nose, mouth, mouth]).yaw_ratio()
    }

    #[test]
    fn frontal_landmarks_have_a_lower_yaw_ratio_than_turned_ones() {
        let frontal = yaw(
            Point::new(80.0, 100.0),
            Point::new(120.0, 100.0),
            Point::new(100.0, 125.0),
        );
        let turned = yaw(
            Point::new(80.0, 100.0),
            Point::new(120.0, 100.0),
            Point::new(112.0, 125.0),
        );
        let profile = yaw(
            Point::new(80.0, 100.0),
            Point::new(120.0, 100.0),
            Point::new(121.0, 125.0),
        );
        assert!(frontal.abs() < 1e-6, "{frontal}");
        assert!((turned - 0.6).abs() < 1e-5, "{turned}");
        assert!(profile > 1.0, "{profile}");
        // Turning the other way gives the same ratio.
        let mirrored = yaw(
            Point::new(80.0, 100.0),
            Point::new(120.0, 100.0),
            Point::new(88.0, 125.0),
        );
        assert!((mirrored - turned).abs() < 1e-5);
    }

    #[test]
    fn a_tilted_frontal_face_is_still_frontal() {
        // Eyes on a 30-degree line, nose on the perpendicular through their midpoint.
        let (c, s) = (30f32.to_radians().cos(), 30f32.to_radians().sin());
        let left = Point::new(100.0 - 20.0 * c, 100.0 - 20.0 * s);
        let right = Point::new(100.0 + 20.0 * c, 100.0 + 20.0 * s);
        let nose = Point::new(100.0 - 25.0 * s, 100.0 + 25.0 * c);
        assert!(yaw(left, right, nose) < 1e-4);
        assert!(yaw(left, left, nose).is_infinite());
    }

    #[test]
    fn from_raw_normalises_and_rejects_zero() {
        let e = Embedding::from_raw(ModelId("m".into()), vec![3.0, 4.0]).unwrap();
        assert!((e.vector()[0] - 0.6).abs() < 1e-6);
        assert!((e.vector()[1] - 0.8).abs() < 1e-6);
        assert!(Embedding::from_raw(ModelId("m".into()), vec![0.0, 0.0]).is_none());
        assert!(Embedding::from_raw(ModelId("m".into()), vec![]).is_none());
        assert!(Embedding::from_raw(ModelId("m".into()), vec![f32::NAN]).is_none());
    }

    #[test]
    fn iou_of_overlapping_boxes() {
        let a = BoundingBox::new(0.0, 0.0, 10.0, 10.0);
        let b = BoundingBox::new(5.0, 0.0, 15.0, 10.0);
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert!(a.iou(&BoundingBox::new(20.0, 20.0, 30.0, 30.0)).abs() < f32::EPSILON);
    }
}
