//! Encryption at rest: embeddings reach the files only sealed, read back the same, and
//! plain rows from before encryption was on still read.

use std::path::Path;
use std::sync::Arc;

use facegate_core::Embedding;
use facegate_core::model::{PhotoMatch, SubjectMatch};
use facegate_core::ports::{CollectionStore, ReferenceStore, Sealer, UserStore};
use facegate_store_embedded::{EmbeddedStore, MIGRATOR, StoreError};

use crate::support::accounts::{add_user, user_face};
use crate::support::sealing::{XorSealer, plain_bytes, stored_in_files};
use crate::support::{
    DIM, MODEL, TempDir, assert_close, assert_same_photo_matches, assert_same_subject_matches,
    at_similarity, connect, cosine, open_store, photo, plain, reference, unit,
};

fn sealed() -> Arc<dyn Sealer> {
    Arc::new(XorSealer)
}

async fn open_sealed(dir: &Path) -> EmbeddedStore {
    facegate_store_embedded::open(dir, sealed()).await.unwrap()
}

/// Stores reference `<tag>-r` of subject `<tag>`, photo `<tag>-p` in session `s` and, for user
/// `<tag>-u`, a face; all near `probe`. Returns the embeddings written.
async fn write_one_of_each(store: &EmbeddedStore, tag: &str, probe: &Embedding) -> Vec<Embedding> {
    let seed = u64::from(tag.as_bytes()[0]);
    let written: Vec<_> = (0..4)
        .map(|i| at_similarity(probe, 0.9 - 0.1 * i as f32, seed * 10 + i))
        .collect();
    store
        .insert_reference(&reference(&format!("{tag}-r"), tag, written[0].clone(), 0))
        .await
        .unwrap();
    store
        .insert_photo(&photo("s", &format!("{tag}-p"), written[1..3].to_vec(), 0))
        .await
        .unwrap();
    let user = add_user(store, &format!("{tag}-u"), 0).await;
    store
        .set_user_face(&user_face(&user.id, written[3].clone(), 0))
        .await
        .unwrap();
    written
}

type Results = (Vec<PhotoMatch>, Vec<SubjectMatch>);

async fn results(store: &EmbeddedStore, probe: &Embedding) -> Results {
    (
        store.search("s", probe, -1.0, 10).await.unwrap(),
        store.identify(probe, 10).await.unwrap(),
    )
}

fn assert_same_results(actual: &Results, expected: &Results) {
    assert_same_photo_matches(&actual.0, &expected.0);
    assert_same_subject_matches(&actual.1, &expected.1);
}

async fn key_ids(dir: &Path, table: &str) -> Vec<Option<String>> {
    let pool = connect(dir).await;
    let ids = sqlx::query_scalar(&format!("SELECT key_id FROM {table} ORDER BY rowid"))
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    ids
}

#[tokio::test]
async fn sealed_embeddings_never_reach_the_files_in_plain() {
    let probe = unit(MODEL, DIM, 1);
    // The check itself finds plain embeddings when encryption is off.
    let plain_dir = TempDir::new("plain-files");
    let store = open_store(plain_dir.path()).await;
    for embedding in write_one_of_each(&store, "a", &probe).await {
        assert!(stored_in_files(plain_dir.path(), &plain_bytes(&embedding)));
    }

    let dir = TempDir::new("sealed-files");
    let store = open_sealed(dir.path()).await;
    let written = write_one_of_each(&store, "a", &probe).await;
    for embedding in &written {
        assert!(!stored_in_files(dir.path(), &plain_bytes(embedding)));
    }
    // Nor once the log is checkpointed into the database file at close.
    store.close().await;
    for embedding in &written {
        assert!(!stored_in_files(dir.path(), &plain_bytes(embedding)));
    }
    for table in ["face_references", "faces", "user_faces"] {
        let ids = key_ids(dir.path(), table).await;
        assert!(!ids.is_empty());
        assert!(
            ids.iter().all(|id| id.as_deref() == Some("test")),
            "{table}"
        );
    }
}

#[tokio::test]
async fn sealed_embeddings_read_back_the_same_after_a_restart() {
    let dir = TempDir::new("sealed-restart");
    let probe = unit(MODEL, DIM, 2);
    let store = open_sealed(dir.path()).await;
    let written = write_one_of_each(&store, "a", &probe).await;
    let before = results(&store, &probe).await;
    store.close().await;

    let store = open_sealed(dir.path()).await;
    let after = results(&store, &probe).await;
    assert_same_results(&after, &before);
    assert_eq!(after.0.len(), 1);
    assert_close(after.0[0].similarity, 0.8);
    assert_close(after.1[0].similarity, 0.9);
    let reference = store.reference("a-r").await.unwrap().unwrap();
    assert_close(cosine(&reference.embedding, &written[0]), 1.0);
    let face = store.user_face("a-u").await.unwrap().unwrap();
    assert_close(cosine(&face.embedding, &written[3]), 1.0);
    let photo = store.photo("s", "a-p").await.unwrap().unwrap();
    assert_close(cosine(&photo.faces[1].embedding, &written[2]), 1.0);
}

#[tokio::test]
async fn plain_rows_still_read_once_encryption_is_on() {
    let dir = TempDir::new("plain-then-sealed");
    let probe = unit(MODEL, DIM, 3);
    let store = open_store(dir.path()).await;
    let old = write_one_of_each(&store, "a", &probe).await;
    let before = results(&store, &probe).await;
    store.close().await;

    let store = open_sealed(dir.path()).await;
    assert_same_results(&results(&store, &probe).await, &before);
    let face = store.user_face("a-u").await.unwrap().unwrap();
    assert_close(cosine(&face.embedding, &old[3]), 1.0);
    let new = write_one_of_each(&store, "b", &probe).await;
    // Old and new rows are found alike (at equal similarities, hence sorted here).
    let (photos, subjects) = results(&store, &probe).await;
    let mut photo_ids: Vec<_> = photos.iter().map(|m| m.photo_id.as_str()).collect();
    photo_ids.sort_unstable();
    assert_eq!(photo_ids, ["a-p", "b-p"]);
    let mut subject_names: Vec<_> = subjects.iter().map(|m| m.subject.as_str()).collect();
    subject_names.sort_unstable();
    assert_eq!(subject_names, ["a", "b"]);
    let face = store.user_face("b-u").await.unwrap().unwrap();
    assert_close(cosine(&face.embedding, &new[3]), 1.0);
    store.close().await;
    assert_eq!(
        key_ids(dir.path(), "face_references").await,
        [None, Some("test".to_owned())]
    );
}

#[tokio::test]
async fn sealed_rows_without_their_sealer_are_refused() {
    let dir = TempDir::new("sealed-no-key");
    let store = open_sealed(dir.path()).await;
    write_one_of_each(&store, "a", &unit(MODEL, DIM, 4)).await;
    store.close().await;

    let err = facegate_store_embedded::open(dir.path(), plain())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Unsealed { key_id } if key_id == "test"),
        "{err}"
    );

    // Undoing the migration that added `key_id` would make them read as plain: refused.
    let pool = connect(dir.path()).await;
    let err = MIGRATOR.undo(&pool, 1).await.unwrap_err();
    assert!(err.to_string().contains("sealed_embeddings"), "{err}");
    pool.close().await;
    assert_eq!(key_ids(dir.path(), "faces").await.len(), 2);
    let store = open_sealed(dir.path()).await;
    assert!(store.reference("a-r").await.unwrap().is_some());
}
