//! Temporary folders, the store in one, and the record builders of
//! `facegate_core::conformance::fixtures`.

pub mod accounts;
pub mod sealing;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use facegate_core::model::{PhotoMatch, SubjectMatch};
use facegate_core::ports::{NoEncryption, Sealer};
use facegate_store_embedded::{DATABASE_FILE, EmbeddedStore};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;

pub use facegate_core::conformance::fixtures::{
    DIM, MODEL, assert_close, assert_same_photo, at_similarity, cosine, photo, reference, unit,
};

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
    facegate_store_embedded::open(dir, plain()).await.unwrap()
}

/// A connection pool of its own to the database in `dir`, for looking past the store.
pub async fn connect(dir: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new().filename(dir.join(DATABASE_FILE));
    SqlitePool::connect_with(options).await.unwrap()
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
