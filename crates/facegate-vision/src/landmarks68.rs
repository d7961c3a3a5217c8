//! The 68-point landmark model of the `faceplugin` package.

use std::path::Path;

use facegate_core::{BoundingBox, Landmarks5, Point};
use image::RgbImage;

use crate::VisionError;
use crate::crop;
use crate::imgproc;
use crate::runtime::Model;

const SIZE: u32 = 64;
pub const MODEL_FILE: &str = "analysis/fr_landmark.onnx";

/// 68 landmarks in the iBUG order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face68(pub [Point; 68]);

impl Face68 {
    fn mean(&self, range: std::ops::Range<usize>) -> Point {
        let n = range.len() as f32;
        let (sx, sy) = self.0[range]
            .iter()
            .fold((0.0, 0.0), |(x, y), p| (x + p.x, y + p.y));
        Point::new(sx / n, sy / n)
    }

    /// Eye centres from the six points of each eye, the nose tip and the mouth corners.
    pub fn to_five(&self) -> Landmarks5 {
        Landmarks5([
            self.mean(36..42),
            self.mean(42..48),
            self.0[30],
            self.0[48],
            self.0[54],
        ])
    }
}

/// 64x64 grey crop of the box, grey value / 256; outputs are normalised to the box.
#[derive(Debug)]
pub struct Landmarks68 {
    model: Model,
}

impl Landmarks68 {
    pub fn open(models_dir: &Path, intra_threads: usize) -> Result<Self, VisionError> {
        Ok(Self {
            model: Model::open(models_dir, MODEL_FILE, intra_threads)?,
        })
    }

    pub fn predict(&mut self, image: &RgbImage, bbox: BoundingBox) -> Result<Face68, VisionError> {
        let (w, h) = image.dimensions();
        let rect = crop::scaled_rect(w, h, bbox, 1.0);
        let face = crop::crop_resized(image, rect, SIZE);
        let tensor: Vec<f32> = face
            .pixels()
            .map(|&px| imgproc::grey_swapped(px).round() / 256.0)
            .collect();
        let outputs = self
            .model
            .run(&[1, 1, SIZE as usize, SIZE as usize], &tensor)?;
        let data = &outputs
            .first()
            .ok_or_else(|| VisionError::Inference("landmark model has no output".into()))?
            .data;
        if data.len() < 136 {
            return Err(VisionError::Inference(
                "landmark model output is too short".into(),
            ));
        }
        let (x1, y1) = (bbox.x1.trunc(), bbox.y1.trunc());
        let (bw, bh) = ((bbox.x2.trunc() - x1).abs(), (bbox.y2.trunc() - y1).abs());
        Ok(Face68(std::array::from_fn(|i| {
            Point::new(data[2 * i] * bw + x1, data[2 * i + 1] * bh + y1)
        })))
    }
}
