//! Passive liveness (anti-spoofing) on a single image.

use std::path::Path;

use facegate_core::BoundingBox;
use image::RgbImage;

use crate::VisionError;
use crate::crop;
use crate::imgproc::{self, ChannelOrder, Normalize};
use crate::runtime::Model;

const SIZE: u32 = 128;
const SCALE: f64 = 2.7;
pub const MODEL_FILE: &str = "analysis/fr_liveness.onnx";

/// The packaged liveness model: the box enlarged 2.7x (clamped to the image), 128x128 RGB
/// with raw 0..255 values; the live probability is the first softmax class. A weak signal
/// on its own: it separates printed photos well but not screen replays.
#[derive(Debug)]
pub struct Liveness {
    model: Model,
}

impl Liveness {
    pub fn open(models_dir: &Path, intra_threads: usize) -> Result<Self, VisionError> {
        Ok(Self {
            model: Model::open(models_dir, MODEL_FILE, intra_threads)?,
        })
    }

    /// Probability in 0..1 that the face is live.
    pub fn score(&mut self, image: &RgbImage, bbox: BoundingBox) -> Result<f32, VisionError> {
        let (w, h) = image.dimensions();
        let face = crop::crop_resized(image, crop::scaled_rect(w, h, bbox, SCALE), SIZE);
        let tensor = imgproc::to_chw(&face, ChannelOrder::Rgb, Normalize::uniform(0.0, 1.0));
        let outputs = self
            .model
            .run(&[1, 3, SIZE as usize, SIZE as usize], &tensor)?;
        let logits = &outputs
            .first()
            .ok_or_else(|| VisionError::Inference("liveness model has no output".into()))?
            .data;
        Ok(softmax(logits).first().copied().unwrap_or(0.0))
    }
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
    use super::softmax;

    #[test]
    fn softmax_sums_to_one_and_orders() {
        let p = softmax(&[1.0, 3.0, 0.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[0] && p[0] > p[2]);
    }
}
