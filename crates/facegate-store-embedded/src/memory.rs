//! [`MemoryIndex`]: the embedded store's [`Vectors`], exact in-memory indexes of every
//! reference and of each photo session's faces, built from the database at open and kept
//! in step with its writes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use facegate_core::model::{IndexedFace, IndexedPhoto, PhotoMatch, Reference, SubjectMatch};
use facegate_core::ports::Sealer;
use facegate_core::{BoundingBox, Embedding};
use facegate_store_sql::{SqlPool, StoreError, Vectors, each_face, each_reference};
use parking_lot::RwLock;
use tokio::sync::Mutex;

use crate::index::VectorIndex;

/// Rows grouped by subject, keyed by reference id.
type ReferenceIndex = VectorIndex<String, String, ()>;

/// Rows grouped by photo id, keyed by face index.
type FaceIndex = VectorIndex<String, u32, FaceMeta>;

/// What a match reports of a face besides its similarity.
#[derive(Debug, Clone, Copy)]
struct FaceMeta {
    bbox: BoundingBox,
    detection_score: f32,
}

impl From<&IndexedFace> for FaceMeta {
    fn from(face: &IndexedFace) -> Self {
        Self {
            bbox: face.bbox,
            detection_score: face.detection_score,
        }
    }
}

/// The embeddings of an embedded store, searched by an exact scan.
#[derive(Debug)]
pub struct MemoryIndex {
    path: PathBuf,
    /// Serialises writers so the index sees writes in the order SQLite committed them
    /// (otherwise a session deleted between another writer's commit and its index update
    /// would leave rows in memory that are gone from disk). Held across `.await`, hence
    /// tokio's mutex; the index locks below never are.
    writes: Mutex<()>,
    references: Arc<RwLock<ReferenceIndex>>,
    /// One index per session, so a search locks only its own session.
    sessions: RwLock<HashMap<String, Arc<RwLock<FaceIndex>>>>,
}

impl MemoryIndex {
    /// Every embedding of the database at `path`, opened with `sealer`.
    pub(crate) async fn load(
        path: PathBuf,
        pool: &SqlPool,
        sealer: &dyn Sealer,
    ) -> Result<Self, StoreError> {
        let mut references = ReferenceIndex::default();
        each_reference(pool, sealer, |subject, id, embedding| {
            references.insert(subject, id, (), &embedding);
        })
        .await?;
        let mut sessions: HashMap<String, FaceIndex> = HashMap::new();
        each_face(pool, sealer, |session_id, photo_id, face| {
            sessions.entry(session_id).or_default().insert(
                photo_id,
                face.face_index,
                FaceMeta::from(&face),
                &face.embedding,
            );
        })
        .await?;
        Ok(Self {
            path,
            writes: Mutex::new(()),
            references: Arc::new(RwLock::new(references)),
            sessions: RwLock::new(
                sessions
                    .into_iter()
                    .map(|(id, index)| (id, Arc::new(RwLock::new(index))))
                    .collect(),
            ),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// References in the index.
    pub(crate) fn references(&self) -> usize {
        self.references.read().len()
    }

    /// Sessions and faces in the index.
    pub(crate) fn sessions_and_faces(&self) -> (usize, usize) {
        let sessions = self.sessions.read();
        let faces = sessions.values().map(|index| index.read().len()).sum();
        (sessions.len(), faces)
    }
}

#[async_trait]
impl Vectors for MemoryIndex {
    fn write_lock(&self) -> Option<&Mutex<()>> {
        Some(&self.writes)
    }

    fn reference_added(&self, reference: &Reference) {
        self.references.write().insert(
            reference.subject.clone(),
            reference.id.clone(),
            (),
            &reference.embedding,
        );
    }

    fn reference_replaced(&self, subject: &str, id: &str, embedding: &Embedding) {
        let mut index = self.references.write();
        index.remove(&subject.to_owned(), &id.to_owned());
        index.insert(subject.to_owned(), id.to_owned(), (), embedding);
    }

    fn reference_removed(&self, subject: &str, id: &str) {
        self.references
            .write()
            .remove(&subject.to_owned(), &id.to_owned());
    }

    fn subject_removed(&self, subject: &str) {
        self.references.write().remove_group(&subject.to_owned());
    }

    fn photo_added(&self, photo: &IndexedPhoto) {
        let session = self
            .sessions
            .write()
            .entry(photo.session_id.clone())
            .or_default()
            .clone();
        let mut index = session.write();
        for face in &photo.faces {
            index.insert(
                photo.photo_id.clone(),
                face.face_index,
                FaceMeta::from(face),
                &face.embedding,
            );
        }
    }

    fn session_removed(&self, session_id: &str) {
        self.sessions.write().remove(session_id);
    }

    /// An exact scan, off the async workers (100k references take milliseconds).
    async fn identify(
        &self,
        probe: &Embedding,
        limit: usize,
    ) -> Result<Vec<SubjectMatch>, StoreError> {
        let index = self.references.clone();
        let probe = probe.clone();
        let hits = tokio::task::spawn_blocking(move || {
            index.read().search(&probe, f32::NEG_INFINITY, limit)
        })
        .await?;
        Ok(hits
            .into_iter()
            .map(|hit| SubjectMatch {
                subject: hit.group,
                reference_id: hit.key,
                similarity: hit.score,
            })
            .collect())
    }

    /// An exact scan of the session, off the async workers (100k faces take milliseconds).
    async fn search(
        &self,
        session_id: &str,
        probe: &Embedding,
        threshold: f32,
        limit: usize,
    ) -> Result<Vec<PhotoMatch>, StoreError> {
        let Some(index) = self.sessions.read().get(session_id).map(Arc::clone) else {
            return Ok(Vec::new());
        };
        let probe = probe.clone();
        let hits =
            tokio::task::spawn_blocking(move || index.read().search(&probe, threshold, limit))
                .await?;
        Ok(hits
            .into_iter()
            .map(|hit| PhotoMatch {
                photo_id: hit.group,
                face_index: hit.key,
                similarity: hit.score,
                detection_confidence: hit.value.detection_score,
                bbox: hit.value.bbox,
            })
            .collect())
    }
}
