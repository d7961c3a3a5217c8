//! Passive liveness (anti-spoofing) on a single image: MiniFASNet V2 and V1SE
//! (Silent-Face-Anti-Spoofing, Apache-2.0), each on its own enlarged crop around the face,
//! their live probabilities averaged.

use std::path::Path;

use facegate_core::BoundingBox;
use image::RgbImage;

use crate::VisionError;
use crate::crop::{self, Rect};
use crate::imgproc::{self, ChannelOrder, Normalize};
use crate::runtime::Model;

/// Side of both networks' square input.
const SIZE: u32 = 80;
/// Each network's file and the factor its crop enlarges the face box by.
const NETWORKS: [(&str, f64); 2] = [
    ("analysis/minifasnet_v2.onnx", 2.7),
    ("analysis/minifasnet_v1se.onnx", 4.0),
];
/// The live probability at or above which a face counts as live, chosen on the NUAA
/// sample (docs/LIVENESS.md).
pub const THRESHOLD: f32 = 0.5;
/// The smallest enlargement of the face box the frame must hold; below it the networks see
/// too little background to tell a print or screen from a face (docs/LIVENESS.md).
pub const MIN_CONTEXT: f64 = 1.8;
/// The smallest face, the side of its square box in pixels, the check scores.
pub const MIN_FACE: f32 = 80.0;

/// The two networks, run on every scored face.
#[derive(Debug)]
pub struct Liveness {
    networks: Vec<(Model, f64)>,
}

impl Liveness {
    pub fn open(models_dir: &Path, intra_threads: usize) -> Result<Self, VisionError> {
        let networks = NETWORKS
            .iter()
            .map(|&(file, scale)| Ok((Model::open(models_dir, file, intra_threads)?, scale)))
            .collect::<Result<_, VisionError>>()?;
        Ok(Self { networks })
    }

    /// Probability in 0..1 that the face is live; [`VisionError::InsufficientContext`]
    /// where the frame is too tight around the face, or the face too small, to tell.
    pub fn score(&mut self, image: &RgbImage, bbox: BoundingBox) -> Result<f32, VisionError> {
        let (w, h) = image.dimensions();
        let context = context(w, h, bbox);
        let face = bbox.width().max(bbox.height());
        if context < MIN_CONTEXT || face < MIN_FACE {
            return Err(VisionError::InsufficientContext { context, face });
        }
        let mut total = 0.0;
        for (model, scale) in &mut self.networks {
            let face = crop::crop_resized(image, enlarged(w, h, bbox, *scale), SIZE);
            let tensor = imgproc::to_chw(&face, ChannelOrder::Bgr, Normalize::uniform(0.0, 1.0));
            let outputs = model.run(&[1, 3, SIZE as usize, SIZE as usize], &tensor)?;
            let logits = &outputs
                .first()
                .ok_or_else(|| VisionError::Inference("liveness model has no output".into()))?
                .data;
            total += softmax(logits).get(1).copied().unwrap_or(0.0);
        }
        Ok(total / self.networks.len() as f32)
    }
}

/// The box as the reference takes it, `[x, y, w, h]`, made square about its centre with
/// the longer side: the networks were trained on near-square boxes, and a detector's tall
/// box squashed to 80x80 rejected 10% of live NUAA frames instead of 0.3%.
fn xywh(b: BoundingBox) -> (f64, f64, f64, f64) {
    let side = f64::from(b.width().max(b.height())).max(1.0);
    let cx = f64::from(b.x1 + b.x2) / 2.0;
    let cy = f64::from(b.y1 + b.y2) / 2.0;
    (
        (cx - side / 2.0).trunc(),
        (cy - side / 2.0).trunc(),
        side.trunc(),
        side.trunc(),
    )
}

/// The largest enlargement of the (square) box the frame holds.
pub fn context(width: u32, height: u32, bbox: BoundingBox) -> f64 {
    let (_, _, w, h) = xywh(bbox);
    ((f64::from(height) - 1.0) / h).min((f64::from(width) - 1.0) / w)
}

/// The reference crop (`generate_patches.py`): the box scaled about its centre by `scale`,
/// or by what the frame holds if less, shifted back inside the frame; its corners truncated,
/// both inclusive.
fn enlarged(width: u32, height: u32, bbox: BoundingBox, scale: f64) -> Rect {
    let (x, y, w, h) = xywh(bbox);
    let scale = scale.min(context(width, height, bbox));
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let (left, right) = inside(cx, w * scale, f64::from(width) - 1.0);
    let (top, bottom) = inside(cy, h * scale, f64::from(height) - 1.0);
    let (l, t) = (left as u32, top as u32);
    Rect {
        x: l,
        y: t,
        w: (right as u32).saturating_sub(l) + 1,
        h: (bottom as u32).saturating_sub(t) + 1,
    }
}

/// The span of `length` centred on `centre`, shifted to lie within `0..=last`.
fn inside(centre: f64, length: f64, last: f64) -> (f64, f64) {
    let (mut start, mut end) = (centre - length / 2.0, centre + length / 2.0);
    if start < 0.0 {
        end -= start;
        start = 0.0;
    }
    if end > last {
        start -= end - last;
        end = last;
    }
    (start.max(0.0), end)
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|v| v / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_orders() {
        let p = softmax(&[1.0, 3.0, 0.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[0] && p[0] > p[2]);
    }

    /// The crops of the reference's rule: centred when the frame holds them, shifted back
    /// inside at an edge, clamped to the frame when it is too small, ends inclusive.
    #[test]
    fn crops_follow_the_reference_rule() {
        let face = BoundingBox::new(270.0, 190.0, 370.0, 290.0);
        assert_eq!(
            enlarged(640, 480, face, 2.7),
            Rect {
                x: 185,
                y: 105,
                w: 271,
                h: 271
            }
        );
        // 4.0x would be 400 px: it fits, centred on (320, 240).
        assert_eq!(enlarged(640, 480, face, 4.0).y, 40);
        // At the left edge, shifted right.
        let edge = BoundingBox::new(10.0, 190.0, 110.0, 290.0);
        assert_eq!(enlarged(640, 480, edge, 2.7).x, 0);
        // A 480-high frame holds at most 4.79x of a 100 px box; a 200 px box only 2.395x.
        let big = BoundingBox::new(220.0, 140.0, 420.0, 340.0);
        assert!((context(640, 480, big) - 2.395).abs() < 1e-9);
        let all = enlarged(640, 480, big, 4.0);
        assert_eq!((all.y, all.h), (0, 480));
    }
}
