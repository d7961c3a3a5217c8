//! Temporary folders, synthetic embeddings with known similarities and record builders.

pub mod accounts;
pub mod sealing;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use facegate_core::model::{IndexedFace, IndexedPhoto, PhotoMatch, Reference, SubjectMatch};
use facegate_core::ports::{NoEncryption, Sealer};
use facegate_core::{BoundingBox, Embedding, FaceDetection, Landmarks5, ModelId};
use facegate_store_embedded::{DATABASE_FILE, EmbeddedStore};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;

pub const MODEL: &str = "w600k_mbf@1";
pub const DIM: usize = 512;

/// A folder of its own for one test, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(test: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "facegate-store-embedded-{test}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Encryption off.
pub fn plain() -> Arc<dyn Sealer> {
    Arc::new(NoEncryption)
}

/// The store in `dir`, encryption off.
pub async fn open_store(dir: &Path) -> EmbeddedStore {
    EmbeddedStore::open(dir, plain()).await.unwrap()
}

/// A connection pool of its own to the database in `dir`, for looking past the store.
pub async fn connect(dir: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new().filename(dir.join(DATABASE_FILE));
    SqlitePool::connect_with(options).await.unwrap()
}

/// A tiny linear congruential generator: reproducible vectors without a rand dependency.
struct Lcg(u64);

impl Lcg {
    /// Uniform in -1..1.
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1_u64 << 24) as f32) * 2.0 - 1.0
    }

    fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.next()).collect()
    }
}

/// A random unit embedding of `model`.
pub fn random_unit(model: &str, dim: usize, seed: u64) -> Embedding {
    Embedding::from_raw(ModelId(model.into()), Lcg(seed).vector(dim)).unwrap()
}

/// A unit embedding (of `base`'s model) whose cosine with `base` is `similarity`.
pub fn at_similarity(base: &Embedding, similarity: f32, seed: u64) -> Embedding {
    let b = base.vector();
    let mut other = Lcg(seed).vector(b.len());
    let along: f32 = other.iter().zip(b).map(|(o, b)| o * b).sum();
    for (o, b) in other.iter_mut().zip(b) {
        *o -= along * b;
    }
    let norm = other.iter().map(|o| o * o).sum::<f32>().sqrt();
    let across = (1.0 - similarity * similarity).sqrt();
    let vector = b
        .iter()
        .zip(&other)
        .map(|(b, o)| similarity * b + across * o / norm)
        .collect();
    Embedding::from_raw(base.model().clone(), vector).unwrap()
}

pub fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    facegate_core::similarity::cosine(a, b).unwrap()
}

pub fn assert_close(actual: f32, expected: f32) {
    assert!(
        (actual - expected).abs() < 1e-4,
        "{actual} is not close to {expected}"
    );
}

pub fn detection(score: f32) -> FaceDetection {
    FaceDetection {
        bbox: BoundingBox::new(10.0, 20.0, 110.0, 140.0),
        score,
        landmarks: Landmarks5::default(),
    }
}

pub fn reference(id: &str, subject: &str, embedding: Embedding, created_at: i64) -> Reference {
    Reference {
        id: id.to_owned(),
        subject: subject.to_owned(),
        face: detection(0.98),
        quality: 0.8,
        embedding,
        created_at,
        crop: None,
    }
}

/// A photo whose face `i` has box `(10i, 10i, 10i + 50, 10i + 60)` and score `0.9 - 0.1i`.
pub fn photo(
    session: &str,
    photo_id: &str,
    faces: Vec<Embedding>,
    indexed_at: i64,
) -> IndexedPhoto {
    IndexedPhoto {
        session_id: session.to_owned(),
        photo_id: photo_id.to_owned(),
        faces: faces
            .into_iter()
            .enumerate()
            .map(|(i, embedding)| {
                let at = 10.0 * i as f32;
                IndexedFace {
                    face_index: i as u32,
                    bbox: BoundingBox::new(at, at, at + 50.0, at + 60.0),
                    detection_score: 0.9 - 0.1 * i as f32,
                    embedding,
                }
            })
            .collect(),
        indexed_at,
    }
}

/// Two photos are the same record; embeddings compared by cosine, not bit for bit.
pub fn assert_same_photo(actual: &IndexedPhoto, expected: &IndexedPhoto) {
    assert_eq!(actual.session_id, expected.session_id);
    assert_eq!(actual.photo_id, expected.photo_id);
    assert_eq!(actual.indexed_at, expected.indexed_at);
    assert_eq!(actual.faces.len(), expected.faces.len());
    for (a, e) in actual.faces.iter().zip(&expected.faces) {
        assert_eq!(a.face_index, e.face_index);
        assert_eq!(a.bbox, e.bbox);
        // REAL holds every f32 exactly.
        assert_eq!(a.detection_score.to_bits(), e.detection_score.to_bits());
        assert_eq!(a.embedding.model(), e.embedding.model());
        assert_close(cosine(&a.embedding, &e.embedding), 1.0);
    }
}

/// The same faces were found, in the same order; similarities agree to float noise (a
/// stored embedding is normalised again when read).
pub fn assert_same_photo_matches(actual: &[PhotoMatch], expected: &[PhotoMatch]) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        assert_eq!(
            (&a.photo_id, a.face_index, a.bbox),
            (&e.photo_id, e.face_index, e.bbox)
        );
        assert_eq!(
            a.detection_confidence.to_bits(),
            e.detection_confidence.to_bits()
        );
        assert!((a.similarity - e.similarity).abs() < 1e-6);
    }
}

/// Like [`assert_same_photo_matches`], for subjects.
pub fn assert_same_subject_matches(actual: &[SubjectMatch], expected: &[SubjectMatch]) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        assert_eq!((&a.subject, &a.reference_id), (&e.subject, &e.reference_id));
        assert!((a.similarity - e.similarity).abs() < 1e-6);
    }
}
