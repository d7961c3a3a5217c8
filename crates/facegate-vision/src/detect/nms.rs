//! Non-maximum suppression.

use facegate_core::FaceDetection;

/// Greedy NMS: keeps the highest-scoring face and drops every other whose overlap with it
/// reaches `iou_threshold`, with the `+1` pixel box convention of the reference code.
pub fn nms(mut faces: Vec<FaceDetection>, iou_threshold: f32) -> Vec<FaceDetection> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let area = |f: &FaceDetection| (f.bbox.x2 - f.bbox.x1 + 1.0) * (f.bbox.y2 - f.bbox.y1 + 1.0);
    let mut kept: Vec<FaceDetection> = Vec::new();
    for face in faces {
        let overlaps = kept.iter().any(|k| {
            let w = (k.bbox.x2.min(face.bbox.x2) - k.bbox.x1.max(face.bbox.x1) + 1.0).max(0.0);
            let h = (k.bbox.y2.min(face.bbox.y2) - k.bbox.y1.max(face.bbox.y1) + 1.0).max(0.0);
            let inter = w * h;
            inter / (area(k) + area(&face) - inter) > iou_threshold
        });
        if !overlaps {
            kept.push(face);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use facegate_core::{BoundingBox, Landmarks5};

    fn face(x1: f32, score: f32) -> FaceDetection {
        FaceDetection {
            bbox: BoundingBox::new(x1, 0.0, x1 + 10.0, 10.0),
            score,
            landmarks: Landmarks5::default(),
        }
    }

    #[test]
    fn keeps_the_best_of_overlapping_boxes() {
        let kept = nms(vec![face(0.0, 0.6), face(1.0, 0.9), face(50.0, 0.7)], 0.4);
        assert_eq!(kept.len(), 2);
        assert!((kept[0].score - 0.9).abs() < f32::EPSILON);
        assert!((kept[1].score - 0.7).abs() < f32::EPSILON);
    }
}
