//! Records of the domain: enrolled references and indexed photo collections.

use serde::{Deserialize, Serialize};

use crate::face::{BoundingBox, Embedding, FaceDetection};

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
    pub created_at: Timestamp,
}

/// A subject and how many references it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectSummary {
    pub name: String,
    pub references: usize,
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
    pub indexed_at: Timestamp,
}

/// What a session holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    pub session_id: String,
    pub indexed_photos: usize,
    pub indexed_faces: usize,
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
