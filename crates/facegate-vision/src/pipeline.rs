//! The face pipeline on one thread: decode -> detect -> align -> embed, plus liveness.

use std::sync::Arc;
use std::time::Instant;

use facegate_core::ports::{Metrics, NoMetrics, Stage};
use facegate_core::{Embedding, FaceDetection, ModelId};
use image::RgbImage;
use serde::Serialize;

use crate::VisionError;
use crate::align;
use crate::attributes::{Analyzer, FaceAttributes, HeadPose};
use crate::config::{Pack, VisionConfig};
use crate::decode;
use crate::detect::{self, Detector, rfb::RfbDetector, scrfd::Scrfd};
use crate::embed::{Embedder, EmbedderSpec};
use crate::liveness::Liveness;
use crate::quality::{self, face_quality};

/// A face with its embedding and quality score.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddedFace {
    pub face: FaceDetection,
    pub embedding: Embedding,
    /// Face quality in 0..1 (see [`crate::quality`]).
    pub quality: f32,
}

/// The main face of a photo, its embedding, and how many faces the photo holds.
#[derive(Debug, Clone, Serialize)]
pub struct MainFaceEmbedding {
    pub main: EmbeddedFace,
    pub face_count: usize,
}

/// Every model session of one pack, owned by one thread (ONNX Runtime sessions run with
/// `&mut`). [`crate::Engine`] runs several of these on dedicated threads.
pub struct Pipeline {
    config: VisionConfig,
    detector: Box<dyn Detector>,
    embedder: Embedder,
    liveness: Liveness,
    /// Attribute models, opened on first use: most deployments never call them.
    analyzer: Option<Analyzer>,
    /// Told how long each stage took; [`NoMetrics`] until [`Pipeline::set_metrics`].
    metrics: Arc<dyn Metrics>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("pack", &self.config.pack)
            .field("model", self.embedder.model_id())
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Opens every model the configuration needs, checking each file against the manifest.
    pub fn open(config: &VisionConfig) -> Result<Self, VisionError> {
        let dir = &config.models_dir;
        let threads = config.intra_threads.max(1);
        let detector: Box<dyn Detector> = match config.pack {
            Pack::Insightface => Box::new(Scrfd::open(
                dir,
                threads,
                config
                    .detection_threshold
                    .unwrap_or(detect::scrfd::DEFAULT_THRESHOLD),
            )?),
            Pack::Open => Box::new(RfbDetector::open(
                dir,
                threads,
                config
                    .detection_threshold
                    .unwrap_or(detect::rfb::DEFAULT_THRESHOLD),
                config.landmarks,
                config.detector_fallback,
            )?),
        };
        Ok(Self {
            config: config.clone(),
            detector,
            embedder: Embedder::open(
                dir,
                EmbedderSpec::for_model(config.embedding_model()),
                threads,
            )?,
            liveness: Liveness::open(dir, threads)?,
            analyzer: None,
            metrics: Arc::new(NoMetrics),
        })
    }

    /// Reports the stage durations and embeddings of every later call to `metrics`.
    pub fn set_metrics(&mut self, metrics: Arc<dyn Metrics>) {
        self.metrics = metrics;
    }

    /// Runs `f` as one run of `stage`.
    fn timed<T>(&mut self, stage: Stage, f: impl FnOnce(&mut Self) -> T) -> T {
        let started = Instant::now();
        let out = f(self);
        self.metrics.stage(stage, started.elapsed());
        out
    }

    pub fn config(&self) -> &VisionConfig {
        &self.config
    }

    pub fn model_id(&self) -> &ModelId {
        self.embedder.model_id()
    }

    /// Decodes an upload within the configured limits.
    pub fn decode(&self, bytes: &[u8]) -> Result<RgbImage, VisionError> {
        self.decoding(|| decode::decode(bytes, &self.config.limits))
    }

    /// Decodes an upload for an operation on its main face, at a reduced scale when it is
    /// a large JPEG (`main_face_decode_side`, [`decode::decode_reduced`]).
    pub fn decode_main(&self, bytes: &[u8]) -> Result<decode::Scaled, VisionError> {
        self.decoding(|| {
            decode::decode_reduced(
                bytes,
                &self.config.limits,
                self.config.main_face_decode_side,
            )
        })
    }

    /// Runs `decode` as one run of the decode stage.
    fn decoding<T>(&self, decode: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = decode();
        self.metrics.stage(Stage::Decode, started.elapsed());
        out
    }

    /// Every face, the main one first (by the configured rule); large photos are searched
    /// in tiles ([`detect::tiled`]) so that small faces are found too. When that finds
    /// nothing (its full-size pass includes the padded retry), the main-face path's other
    /// searches run (the small input, turned copies), so that a photo whose face verifies
    /// can also be enrolled and indexed.
    pub fn detect(&mut self, image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        let size = self.config.detection_size;
        self.timed(Stage::Detect, |p| {
            let mut faces = detect::tiled::detect_all(
                p.detector.as_mut(),
                image,
                size,
                &p.config.group_photos,
            )?;
            if faces.is_empty() {
                let small = p.detect_small(image)?;
                return p.or_turned(image, small);
            }
            p.rank(&mut faces, image);
            Ok(faces)
        })
    }

    /// Faces for an operation on the main face: a fast pass at the smaller
    /// `main_face_detection_size`, then the full [`Pipeline::detect`] when it finds nothing.
    /// Small background faces may go uncounted.
    pub fn detect_main(&mut self, image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        self.timed(Stage::Detect, |p| p.detect_main_untimed(image))
    }

    /// The main face alone, or [`VisionError::NoFace`].
    pub fn main_face(&mut self, image: &RgbImage) -> Result<FaceDetection, VisionError> {
        self.detect_main(image)?
            .first()
            .copied()
            .ok_or(VisionError::NoFace)
    }

    /// The main-face path: the small input, then the full one with the padded retry; then,
    /// when that finds nothing or a doubtful main face, turned copies of the image (a photo
    /// taken sideways or upside down, a head tilted far over), whose best beats it.
    fn detect_main_untimed(&mut self, image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        let mut faces = self.detect_small(image)?;
        if faces.is_empty() {
            faces = self.detect_at(image, self.config.detection_size)?;
        }
        self.or_turned(image, faces)
    }

    /// The fast pass at `main_face_detection_size`, when it is smaller than the full input.
    fn detect_small(&mut self, image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        let small = self.config.main_face_detection_size;
        if small >= self.config.detection_size {
            return Ok(Vec::new());
        }
        let mut faces = self.detector.detect(image, small)?;
        self.rank(&mut faces, image);
        Ok(faces)
    }

    /// `faces`, or, when they are none or their main face is doubtful, the faces of a
    /// turned copy that beat it.
    fn or_turned(
        &mut self,
        image: &RgbImage,
        faces: Vec<FaceDetection>,
    ) -> Result<Vec<FaceDetection>, VisionError> {
        let small = self.config.main_face_detection_size;
        let main_score = faces.first().map(|f| f.score);
        if !self.config.turned_faces
            || main_score.is_some_and(|s| s >= detect::turned::DOUBTFUL_SCORE)
        {
            return Ok(faces);
        }
        let beat = main_score.map_or(0.0, |s| s + detect::turned::TURNED_MARGIN);
        let mut turned = detect::turned::detect_turned(self.detector.as_mut(), image, small, beat)?;
        if turned.is_empty() {
            return Ok(faces);
        }
        self.rank(&mut turned, image);
        Ok(turned)
    }

    fn detect_at(
        &mut self,
        image: &RgbImage,
        size: u32,
    ) -> Result<Vec<FaceDetection>, VisionError> {
        let mut faces = detect::detect_with_pad_retry(self.detector.as_mut(), image, size)?;
        self.rank(&mut faces, image);
        Ok(faces)
    }

    fn rank(&self, faces: &mut [FaceDetection], image: &RgbImage) {
        detect::rank_faces(faces, image.width(), image.height(), self.config.main_face);
    }

    /// The 112x112 aligned crop of a face.
    pub fn align(image: &RgbImage, face: &FaceDetection) -> Result<RgbImage, VisionError> {
        align::align_face(image, &face.landmarks).ok_or(VisionError::NoFace)
    }

    /// The aligned crop of `face` as PNG: what `admin reembed` embeds again later.
    pub fn aligned_png(image: &RgbImage, face: &FaceDetection) -> Result<Vec<u8>, VisionError> {
        let crop = Self::align(image, face)?;
        let mut png = Vec::new();
        crop.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| VisionError::Inference(format!("encoding the face crop: {e}")))?;
        Ok(png)
    }

    /// Embeds aligned crops stored as PNG by [`Pipeline::aligned_png`].
    pub fn embed_png_crops(&mut self, crops: &[Vec<u8>]) -> Result<Vec<Embedding>, VisionError> {
        let size = align::ALIGNED_SIZE;
        let images = crops
            .iter()
            .map(|png| {
                let crop = image::load_from_memory_with_format(png, image::ImageFormat::Png)
                    .map_err(|e| VisionError::Inference(format!("stored face crop: {e}")))?
                    .into_rgb8();
                if crop.dimensions() == (size, size) {
                    Ok(crop)
                } else {
                    Err(VisionError::Inference(format!(
                        "a stored face crop is {}x{}, not {size}x{size}",
                        crop.width(),
                        crop.height()
                    )))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.embed_aligned(&images)
    }

    /// Embeds aligned crops.
    pub fn embed_aligned(&mut self, crops: &[RgbImage]) -> Result<Vec<Embedding>, VisionError> {
        let embeddings =
            self.timed(Stage::Embed, |p| p.embedder.embed(crops, p.config.flip_tta))?;
        self.metrics.embeddings(embeddings.len() as u64);
        Ok(embeddings)
    }

    /// Embeds the given faces of an image, in one batch where the model allows it.
    pub fn embed_faces(
        &mut self,
        image: &RgbImage,
        faces: &[FaceDetection],
    ) -> Result<Vec<EmbeddedFace>, VisionError> {
        let crops = self.timed(Stage::Align, |_| {
            faces
                .iter()
                .map(|f| Self::align(image, f))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let embeddings = self.embed_aligned(&crops)?;
        Ok(faces
            .iter()
            .zip(crops.iter().zip(embeddings))
            .map(|(face, (crop, embedding))| EmbeddedFace {
                face: *face,
                embedding,
                quality: face_quality(image, face, crop).score,
            })
            .collect())
    }

    /// Detects, picks the main face and embeds it. No face is an error.
    pub fn embed_main(&mut self, image: &RgbImage) -> Result<MainFaceEmbedding, VisionError> {
        let faces = self.detect_main(image)?;
        let main = *faces.first().ok_or(VisionError::NoFace)?;
        self.embed_as_main(image, main, faces.len())
    }

    /// `main` of `image` embedded, as the main face of a photo holding `face_count`.
    fn embed_as_main(
        &mut self,
        image: &RgbImage,
        main: FaceDetection,
        face_count: usize,
    ) -> Result<MainFaceEmbedding, VisionError> {
        let embedded = self
            .embed_faces(image, &[main])?
            .pop()
            .ok_or(VisionError::NoFace)?;
        Ok(MainFaceEmbedding {
            main: embedded,
            face_count,
        })
    }

    /// [`Pipeline::embed_main`] of an upload, decoded by [`Pipeline::decode_main`], with
    /// the face in the original photo's pixels.
    /// A main face with fewer pixels between the eyes at the reduced scale than the
    /// embedder's template ([`quality::IOD_ENOUGH`]) is embedded from the whole photo,
    /// decoded once more.
    pub fn embed_main_photo(&mut self, bytes: &[u8]) -> Result<MainFaceEmbedding, VisionError> {
        let decoded = self.decode_main(bytes)?;
        let faces = self.detect_main(&decoded.image)?;
        let main = *faces.first().ok_or(VisionError::NoFace)?;
        if decoded.scale < 1.0 && quality::eye_distance(&main) < quality::IOD_ENOUGH {
            let whole = self.decode(bytes)?;
            return self.embed_as_main(&whole, decoded.original(&main), faces.len());
        }
        let mut embedded = self.embed_as_main(&decoded.image, main, faces.len())?;
        embedded.main.face = decoded.original(&embedded.main.face);
        Ok(embedded)
    }

    /// Probability in 0..1 that the face is live (not a printed or replayed photo);
    /// [`VisionError::InsufficientContext`] where the image cannot tell.
    pub fn liveness(&mut self, image: &RgbImage, face: &FaceDetection) -> Result<f32, VisionError> {
        self.liveness.score(image, face.bbox)
    }

    /// [`Pipeline::liveness`], `None` where the image cannot tell (for reports on every
    /// face, where a tight or small face is no error).
    pub fn liveness_if_scorable(
        &mut self,
        image: &RgbImage,
        face: &FaceDetection,
    ) -> Result<Option<f32>, VisionError> {
        match self.liveness(image, face) {
            Err(VisionError::InsufficientContext { .. }) => Ok(None),
            scored => scored.map(Some),
        }
    }

    /// Age, gender, expression, head pose and eye state of a face.
    pub fn attributes(
        &mut self,
        image: &RgbImage,
        face: &FaceDetection,
    ) -> Result<FaceAttributes, VisionError> {
        self.analyzer()?.analyze(image, face.bbox)
    }

    /// The head pose of a face alone.
    pub fn head_pose(
        &mut self,
        image: &RgbImage,
        face: &FaceDetection,
    ) -> Result<HeadPose, VisionError> {
        self.analyzer()?.pose(image, face.bbox)
    }

    /// The attribute models, opened on first use.
    fn analyzer(&mut self) -> Result<&mut Analyzer, VisionError> {
        if self.analyzer.is_none() {
            self.analyzer = Some(Analyzer::open(
                &self.config.models_dir,
                self.config.intra_threads.max(1),
            )?);
        }
        self.analyzer
            .as_mut()
            .ok_or_else(|| VisionError::Inference("the attribute models did not open".into()))
    }

    /// The quality score of a face (needs its aligned crop).
    pub fn quality(image: &RgbImage, face: &FaceDetection) -> Result<f32, VisionError> {
        Ok(face_quality(image, face, &Self::align(image, face)?).score)
    }

    /// Runs every model once so that the first real request pays no start-up cost, and
    /// proves that inference works.
    pub fn warm_up(&mut self) -> Result<(), VisionError> {
        let image = RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]));
        self.detect(&image)?;
        let face = FaceDetection {
            bbox: facegate_core::BoundingBox::new(100.0, 60.0, 220.0, 180.0),
            score: 1.0,
            landmarks: facegate_core::Landmarks5(align::ARCFACE_TEMPLATE),
        };
        self.embed_faces(&image, &[face])?;
        self.liveness(&image, &face)?;
        Ok(())
    }
}
