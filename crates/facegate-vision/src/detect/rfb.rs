//! The `open` pack's detector: Ultra-Light RFB-320 boxes, checked and given five points by
//! MTCNN's O-Net or the 68-point model; optionally the whole MTCNN cascade when RFB-320
//! finds nothing.

use std::path::Path;

use facegate_core::{BoundingBox, FaceDetection};
use image::RgbImage;

use crate::VisionError;
use crate::config::LandmarkSource;
use crate::detect::mtcnn::Mtcnn;
use crate::detect::onet::Onet;
use crate::detect::{Detector, nms::nms};
use crate::imgproc::{self, ChannelOrder, Interpolation, Normalize};
use crate::landmarks68::Landmarks68;
use crate::runtime::{Model, output};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
const NMS_IOU: f32 = 0.4;
const TOP_K: usize = 750;
/// O-Net face probability below which a box is dropped when there are several.
const ONET_CHECK: f32 = 0.5;
pub const DEFAULT_THRESHOLD: f32 = 0.65;
pub const MODEL_FILE: &str = "open/fr_detect.onnx";

/// RFB-320 on the whole image resized to 320x240 (aspect not kept), fed B,G,R with
/// `(v - 127) / 128` as the package's JavaScript does. Boxes come out decoded and
/// normalised; they are made square on their height and clipped to the image.
#[derive(Debug)]
pub struct RfbDetector {
    model: Model,
    onet: Onet,
    landmarks68: Option<Landmarks68>,
    /// The cascade run when RFB-320 finds no face.
    fallback: Option<Mtcnn>,
    threshold: f32,
}

impl RfbDetector {
    /// With `mtcnn_fallback`, also opens the MTCNN cascade for images where RFB-320 finds
    /// no face (turned faces, profiles).
    pub fn open(
        models_dir: &Path,
        intra_threads: usize,
        threshold: f32,
        landmarks: LandmarkSource,
        mtcnn_fallback: bool,
    ) -> Result<Self, VisionError> {
        Ok(Self {
            model: Model::open(models_dir, MODEL_FILE, intra_threads)?,
            onet: Onet::open(models_dir, intra_threads)?,
            landmarks68: match landmarks {
                LandmarkSource::Onet => None,
                LandmarkSource::Landmark68 => Some(Landmarks68::open(models_dir, intra_threads)?),
            },
            fallback: if mtcnn_fallback {
                Some(Mtcnn::open(models_dir, intra_threads)?)
            } else {
                None
            },
            threshold,
        })
    }

    /// The faces whose O-Net face probability reaches [`ONET_CHECK`].
    fn onet_checked(
        &mut self,
        image: &RgbImage,
        faces: &[FaceDetection],
    ) -> Result<Vec<FaceDetection>, VisionError> {
        let mut checked = Vec::with_capacity(faces.len());
        for f in faces {
            if self.onet.run(image, f.bbox)?.face_probability >= ONET_CHECK {
                checked.push(*f);
            }
        }
        Ok(checked)
    }

    fn boxes(&mut self, image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        let resized = imgproc::resize(image, WIDTH, HEIGHT, Interpolation::Bilinear);
        let tensor = imgproc::to_chw(
            &resized,
            ChannelOrder::Bgr,
            Normalize::uniform(127.0, 128.0),
        );
        let outputs = self
            .model
            .run(&[1, 3, HEIGHT as usize, WIDTH as usize], &tensor)?;
        let scores = &output(&outputs, "scores")?.data;
        let boxes = &output(&outputs, "boxes")?.data;
        let mut candidates: Vec<FaceDetection> = scores
            .chunks_exact(2)
            .zip(boxes.chunks_exact(4))
            .filter(|(s, _)| s[1] >= self.threshold)
            .map(|(s, b)| FaceDetection {
                bbox: BoundingBox::new(
                    b[0] * WIDTH as f32,
                    b[1] * HEIGHT as f32,
                    b[2] * WIDTH as f32,
                    b[3] * HEIGHT as f32,
                ),
                score: s[1],
                landmarks: facegate_core::Landmarks5::default(),
            })
            .collect();
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        candidates.truncate(TOP_K);
        let (w, h) = image.dimensions();
        let (sx, sy) = (w as f32 / WIDTH as f32, h as f32 / HEIGHT as f32);
        Ok(nms(candidates, NMS_IOU)
            .into_iter()
            .map(|f| FaceDetection {
                bbox: square_on_height(
                    BoundingBox::new(
                        f.bbox.x1 * sx,
                        f.bbox.y1 * sy,
                        f.bbox.x2 * sx,
                        f.bbox.y2 * sy,
                    ),
                    w,
                    h,
                ),
                ..f
            })
            .filter(|f| f.bbox.width() > 0.0 && f.bbox.height() > 0.0)
            .collect())
    }
}

impl Detector for RfbDetector {
    /// The MTCNN cascade's faces, with its O-Net points, when the fallback is open.
    fn fallback(&mut self, image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        match &mut self.fallback {
            Some(mtcnn) => mtcnn.detect(image),
            None => Ok(Vec::new()),
        }
    }

    /// The RFB input is fixed at 320x240; `_input` is ignored.
    fn detect(&mut self, image: &RgbImage, _input: u32) -> Result<Vec<FaceDetection>, VisionError> {
        let mut faces = self.boxes(image)?;
        if faces.len() > 1 {
            let checked = self.onet_checked(image, &faces)?;
            if !checked.is_empty() {
                faces = checked;
            }
        }
        for f in &mut faces {
            f.landmarks = match &mut self.landmarks68 {
                Some(model) => model.predict(image, f.bbox)?.to_five(),
                None => self.onet.landmarks(image, f.bbox)?,
            };
        }
        Ok(faces)
    }

    /// Those of the faces O-Net takes for faces.
    fn confirm(
        &mut self,
        image: &RgbImage,
        faces: Vec<FaceDetection>,
    ) -> Result<Vec<FaceDetection>, VisionError> {
        self.onet_checked(image, &faces)
    }

    /// Always 320x240.
    fn input_dims(&self, _input: u32) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }
}

/// A square of side = box height centred on the box, clipped to the image.
fn square_on_height(b: BoundingBox, width: u32, height: u32) -> BoundingBox {
    let c = b.center();
    let half = b.height() / 2.0;
    BoundingBox::new(
        (c.x - half).max(0.0),
        (c.y - half).max(0.0),
        (c.x + half).min(width as f32 - 1.0),
        (c.y + half).min(height as f32 - 1.0),
    )
}
