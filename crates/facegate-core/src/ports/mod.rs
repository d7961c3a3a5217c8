//! The ports the use-cases need; adapters implement them.

mod accounts;
mod cache;
mod metrics;
mod sealed_blobs;
mod webhooks;

pub use accounts::{
    ApiKeyStore, AuditLog, Credentials, Inventory, InventorySource, JobListener, JobQueue,
    LivenessSessionStore, NoEncryption, NoListener, RateDecision, RateLimiter, ScanStore, Sealer,
    TokenRejection, TransactionStore, UserStore,
};
pub use cache::{Cache, CacheHealth, NoCache};
pub use metrics::{GaugeSource, Gauges, MatchOp, Metrics, NoMetrics, QueueLevel, Stage, Timer};
pub use sealed_blobs::SealedBlobs;
pub use webhooks::{WebhookSender, WebhookStore};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::face::{Embedding, FaceDetection, ModelId};
use crate::failure::Result;
use crate::model::{
    IndexedPhoto, PhotoMatch, Reference, SessionStatus, StaleReference, SubjectMatch,
    SubjectSummary, Timestamp,
};

/// Faces found in an image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectedFaces {
    pub width: u32,
    pub height: u32,
    /// Main face first.
    pub faces: Vec<FaceDetection>,
}

/// A face with its embedding and quality score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddedFace {
    pub face: FaceDetection,
    pub embedding: Embedding,
    /// Face quality in 0..1 (size, sharpness, pose, detector confidence).
    pub quality: f32,
}

/// Estimated attributes of a face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceAttributes {
    pub age: f32,
    pub gender: String,
    pub gender_score: f32,
    pub expression: String,
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
    pub left_eye_open: bool,
    pub right_eye_open: bool,
}

/// Everything measured about one face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceReport {
    pub face: FaceDetection,
    pub quality: f32,
    /// Probability in 0..1 that the face is live; `None` where the image holds too little
    /// around the face, or too small a face, to tell.
    pub liveness: Option<f32>,
    pub attributes: FaceAttributes,
}

/// How symmetric a face is, from its aligned crop and its landmarks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Symmetry {
    /// 0 (as different as two unrelated faces) to 100 (a perfect mirror image).
    pub score: f32,
    /// 0..1: the aligned face against its mirror image, pixel by pixel.
    pub appearance: f32,
    /// 0..1: the nose and mouth corners against the eyes' axis.
    pub landmarks: f32,
}

/// The face model runtime.
#[async_trait]
pub trait FaceEngine: Send + Sync {
    /// The embedding model every embedding of this engine carries.
    fn model_id(&self) -> ModelId;
    /// Checks an upload against the image limits from its header alone, decoding no
    /// pixel: for uploads that are stored now and processed later.
    fn check_image(&self, image: &[u8]) -> Result<()>;
    /// Every face, main face first.
    async fn detect(&self, image: Vec<u8>) -> Result<DetectedFaces>;
    /// Every face with its embedding, main face first.
    async fn embed_all(&self, image: Vec<u8>) -> Result<Vec<EmbeddedFace>>;
    /// The main face only (cheaper: one embedding).
    async fn embed_main(&self, image: Vec<u8>) -> Result<(EmbeddedFace, usize)>;
    /// Liveness of the main face.
    async fn liveness(&self, image: Vec<u8>) -> Result<(FaceDetection, f32)>;
    /// Quality, liveness and attributes of every face.
    async fn analyze(&self, image: Vec<u8>) -> Result<Vec<FaceReport>>;
    /// What a frame of a liveness challenge shows: its faces, the main face's head pose,
    /// embedding and passive score.
    async fn challenge_frame(&self, image: Vec<u8>) -> Result<crate::challenge::FrameReport>;
    /// Facial symmetry of the main face.
    async fn symmetry(&self, image: Vec<u8>) -> Result<(FaceDetection, Symmetry)>;
    /// Every face with its embedding and its aligned 112x112 crop as PNG, main face first
    /// (for enrollment: the crop is what `admin reembed` embeds again later).
    async fn embed_all_with_crops(&self, image: Vec<u8>) -> Result<Vec<(EmbeddedFace, Vec<u8>)>>;
    /// Embeddings of aligned crops made by [`FaceEngine::aligned_crop`] (no detection).
    async fn embed_crops(&self, crops: Vec<Vec<u8>>) -> Result<Vec<Embedding>>;
}

/// Enrolled references and subjects.
#[async_trait]
pub trait ReferenceStore: Send + Sync {
    async fn insert_reference(&self, reference: &Reference) -> Result<()>;
    async fn reference(&self, id: &str) -> Result<Option<Reference>>;
    /// Returns whether it existed.
    async fn delete_reference(&self, id: &str) -> Result<bool>;
    async fn subjects(&self) -> Result<Vec<SubjectSummary>>;
    async fn subject_references(&self, subject: &str) -> Result<Vec<Reference>>;
    /// Removes a subject and every reference of it; returns how many were removed.
    async fn delete_subject(&self, subject: &str) -> Result<usize>;
    /// The best `limit` subjects for `probe` (one entry per subject, best reference).
    async fn identify(&self, probe: &Embedding, limit: usize) -> Result<Vec<SubjectMatch>>;
    /// Up to `limit` references whose model is not `current`, with ids above `after`,
    /// ordered by id (a cursor for [`crate::reembed`]).
    async fn stale_references(
        &self,
        current: &ModelId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StaleReference>>;
    /// Replaces a reference's embedding (and so its model); returns whether it existed.
    async fn replace_embedding(&self, id: &str, embedding: &Embedding) -> Result<bool>;
}

/// Indexed photo collections ("sessions").
#[async_trait]
pub trait CollectionStore: Send + Sync {
    /// Stores a photo and its faces unless the same `(session, photo_id)` is already
    /// there; returns the stored record and whether it was new.
    async fn insert_photo(&self, photo: &IndexedPhoto) -> Result<(IndexedPhoto, bool)>;
    async fn photo(&self, session_id: &str, photo_id: &str) -> Result<Option<IndexedPhoto>>;
    async fn status(&self, session_id: &str) -> Result<SessionStatus>;
    /// Removes the session; returns how many photos it held.
    async fn delete_session(&self, session_id: &str) -> Result<usize>;
    /// Faces of the session at or above `threshold`, best first, at most `limit`, at most
    /// one per photo (its best face).
    async fn search(
        &self,
        session_id: &str,
        probe: &Embedding,
        threshold: f32,
        limit: usize,
    ) -> Result<Vec<PhotoMatch>>;
}

/// An object as listed by [`BlobStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub modified_at: Timestamp,
}

/// Object storage for uploads and photos, addressed by key.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// The object's bytes; a missing key is [`crate::ErrorCode::NotFound`].
    async fn get(&self, key: &str) -> Result<Vec<u8>>;
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()>;
    /// Deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// At most `limit` objects in the folder `prefix` (`a/b/`) and below, in no set order.
    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<StoredObject>>;
}

/// Wall-clock time, replaceable in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as Timestamp)
    }
}
