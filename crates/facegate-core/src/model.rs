//! Records of the domain: enrolled references and indexed photo collections.

use serde::{Deserialize, Serialize};

use crate::face::{BoundingBox, Embedding, FaceDetection, ModelId};

/// Milliseconds since the Unix epoch.
pub type Timestamp = i64;

/// An enrolled face: one reference image of a subject, reduced to its embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    pub id: String,
    /// The subject this reference belongs to.
    pub subject: String,
    pub face: FaceDetection,
    pub quality: f32,
    pub embedding: Embedding,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub created_at: Timestamp,
    /// The aligned 112x112 face as PNG, kept so that `admin reembed` can compute the
    /// embedding again with another model. Written on insert; reads leave it out.
    #[serde(skip)]
    pub crop: Option<Vec<u8>>,
}

/// A reference whose embedding belongs to another model than the engine's.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleReference {
    pub id: String,
    pub model: ModelId,
    /// Absent for references enrolled before crops were kept: those must be enrolled again.
    pub crop: Option<Vec<u8>>,
}

/// A subject and how many references it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectSummary {
    pub name: String,
    pub references: usize,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub created_at: Timestamp,
}

/// A subject that matched a probe face, with the best similarity among its references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectMatch {
    pub subject: String,
    pub reference_id: String,
    pub similarity: f32,
}

/// One face found in an indexed photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexedFace {
    pub face_index: u32,
    pub bbox: BoundingBox,
    pub detection_score: f32,
    pub embedding: Embedding,
}

/// A photo indexed into a session with all its faces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexedPhoto {
    pub session_id: String,
    pub photo_id: String,
    pub faces: Vec<IndexedFace>,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub indexed_at: Timestamp,
}

/// What a session holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    pub session_id: String,
    pub indexed_photos: usize,
    pub indexed_faces: usize,
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub last_indexed_at: Option<Timestamp>,
}

/// A face of an indexed photo that matched a selfie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoMatch {
    pub photo_id: String,
    pub face_index: u32,
    pub similarity: f32,
    pub detection_confidence: f32,
    pub bbox: BoundingBox,
}
