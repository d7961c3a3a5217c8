//! SCRFD-0.5GF with five keypoints (the `insightface` pack's detector).

use std::path::Path;

use facegate_core::{BoundingBox, FaceDetection, Landmarks5, Point};
use image::RgbImage;

use crate::VisionError;
use crate::detect::{Detector, nms::nms};
use crate::imgproc::{self, ChannelOrder, Interpolation, Normalize};
use crate::runtime::{Model, Output};

/// Input side the model was trained at; any multiple of 32 works (the graph is dynamic).
pub const DEFAULT_INPUT: u32 = 640;
const STRIDES: [u32; 3] = [8, 16, 32];
/// The input's sides are multiples of the coarsest stride.
const STRIDE_MAX: u32 = STRIDES[STRIDES.len() - 1];
const ANCHORS_PER_CELL: usize = 2;
const NMS_IOU: f32 = 0.4;
pub const DEFAULT_THRESHOLD: f32 = 0.5;
pub const MODEL_FILE: &str = "insightface/scrfd_500m_bnkps.onnx";

/// SCRFD on an input of at most `input` x `input` (640 by default): the image is resized to
/// fit (aspect kept), placed top-left on a black canvas whose sides are those of the
/// resized image rounded up to a multiple of 32 (the graph takes any such size, so a 16:9
/// photo costs 60% of the square's pixels), normalised `(x - 127.5) / 128` in RGB.
#[derive(Debug)]
pub struct Scrfd {
    model: Model,
    threshold: f32,
}

impl Scrfd {
    pub fn open(
        models_dir: &Path,
        intra_threads: usize,
        threshold: f32,
    ) -> Result<Self, VisionError> {
        Ok(Self {
            model: Model::open(models_dir, MODEL_FILE, intra_threads)?,
            threshold,
        })
    }
}

impl Detector for Scrfd {
    fn detect(&mut self, image: &RgbImage, input: u32) -> Result<Vec<FaceDetection>, VisionError> {
        let (input, _) = self.input_dims(input);
        let (w, h) = image.dimensions();
        let (new_w, new_h) = if h > w {
            (
                (f64::from(input) * f64::from(w) / f64::from(h)) as u32,
                input,
            )
        } else {
            (
                input,
                (f64::from(input) * f64::from(h) / f64::from(w)) as u32,
            )
        };
        let (new_w, new_h) = (new_w.max(1), new_h.max(1));
        let scale = new_h as f32 / h as f32;
        let resized = imgproc::resize(image, new_w, new_h, Interpolation::Bilinear);
        let (canvas_w, canvas_h) = (
            new_w.div_ceil(STRIDE_MAX) * STRIDE_MAX,
            new_h.div_ceil(STRIDE_MAX) * STRIDE_MAX,
        );
        let mut canvas = RgbImage::new(canvas_w, canvas_h);
        image::imageops::replace(&mut canvas, &resized, 0, 0);
        let tensor = imgproc::to_chw(&canvas, ChannelOrder::Rgb, Normalize::uniform(127.5, 128.0));
        let outputs = self
            .model
            .run(&[1, 3, canvas_h as usize, canvas_w as usize], &tensor)?;
        let faces = decode(&outputs, self.threshold, canvas_w, canvas_h)?;
        Ok(nms(faces, NMS_IOU)
            .into_iter()
            .map(|f| f.mapped(1.0 / scale, 0.0, 0.0))
            .collect())
    }

    fn input_dims(&self, input: u32) -> (u32, u32) {
        let side = (input / STRIDE_MAX).max(1) * STRIDE_MAX;
        (side, side)
    }
}

/// Finds the output with `width` values per anchor for a stride, by shape, since export
/// tools do not keep output names stable.
fn find(outputs: &[Output], width: i64, anchors: usize) -> Result<&[f32], VisionError> {
    outputs
        .iter()
        .find(|o| o.shape.last() == Some(&width) && o.data.len() == anchors * width as usize)
        .map(|o| o.data.as_slice())
        .ok_or_else(|| {
            VisionError::Inference(format!("SCRFD output [{anchors}, {width}] is missing"))
        })
}

/// Decodes the scores, box distances and keypoint offsets of every stride in the
/// `width` x `height` input's coordinates. Anchor centres sit at
/// `(col * stride, row * stride)`, two per cell, row by row.
fn decode(
    outputs: &[Output],
    threshold: f32,
    width: u32,
    height: u32,
) -> Result<Vec<FaceDetection>, VisionError> {
    let mut faces = Vec::new();
    for stride in STRIDES {
        let cells = width / stride;
        let anchors = (cells * (height / stride)) as usize * ANCHORS_PER_CELL;
        let scores = find(outputs, 1, anchors)?;
        let boxes = find(outputs, 4, anchors)?;
        let kps = find(outputs, 10, anchors)?;
        let s = stride as f32;
        for (i, &score) in scores.iter().enumerate() {
            if score < threshold {
                continue;
            }
            let cell = (i / ANCHORS_PER_CELL) as u32;
            let cx = (cell % cells) as f32 * s;
            let cy = (cell / cells) as f32 * s;
            let d = &boxes[i * 4..i * 4 + 4];
            let k = &kps[i * 10..i * 10 + 10];
            let landmarks =
                std::array::from_fn(|j| Point::new(cx + k[2 * j] * s, cy + k[2 * j + 1] * s));
            faces.push(FaceDetection {
                bbox: BoundingBox::new(cx - d[0] * s, cy - d[1] * s, cx + d[2] * s, cy + d[3] * s),
                score,
                landmarks: Landmarks5(landmarks),
            });
        }
    }
    Ok(faces)
}
