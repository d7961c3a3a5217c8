//! Opening, restarting and migrating the store.

use std::path::Path;

use facegate_core::ports::{CollectionStore, ReferenceStore};
use facegate_store_embedded::{DATABASE_FILE, EmbeddedStore, MIGRATOR, StoreError};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;

use crate::support::{
    DIM, MODEL, TempDir, assert_same_photo, at_similarity, photo, random_unit, reference,
};

/// Every table, by name, once migrated.
const ALL_TABLES: [&str; 4] = ["_sqlx_migrations", "face_references", "faces", "photos"];

async fn connect(dir: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new().filename(dir.join(DATABASE_FILE));
    SqlitePool::connect_with(options).await.unwrap()
}

async fn tables(pool: &SqlitePool) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn open_creates_the_folder_and_a_wal_database() {
    let dir = TempDir::new("open");
    let nested = dir.path().join("data").join("store");
    let store = EmbeddedStore::open(&nested).await.unwrap();
    assert_eq!(store.path(), nested.join(DATABASE_FILE));
    assert!(store.path().is_file());
    store.close().await;

    let pool = connect(&nested).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(tables(&pool).await, ALL_TABLES);

    // A file where the folder should be is reported, not panicked on.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = EmbeddedStore::open(&file).await.unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err}");
}

#[tokio::test]
async fn everything_survives_a_restart() {
    let dir = TempDir::new("restart");
    let probe = random_unit(MODEL, DIM, 77);
    let indexed = photo(
        "s",
        "p1",
        vec![
            at_similarity(&probe, 0.85, 1),
            at_similarity(&probe, 0.1, 2),
        ],
        10,
    );
    let (before_search, before_identify) = {
        let store = EmbeddedStore::open(dir.path()).await.unwrap();
        store.insert_photo(&indexed).await.unwrap();
        store
            .insert_photo(&photo("s", "p2", vec![at_similarity(&probe, 0.6, 3)], 20))
            .await
            .unwrap();
        store
            .insert_photo(&photo(
                "gone",
                "p1",
                vec![at_similarity(&probe, 0.9, 4)],
                30,
            ))
            .await
            .unwrap();
        store.delete_session("gone").await.unwrap();
        for (id, subject, similarity, seed) in [
            ("a1", "alice", 0.8, 5),
            ("b1", "bob", 0.4, 6),
            ("c1", "carol", 0.99, 7),
        ] {
            let embedding = at_similarity(&probe, similarity, seed);
            store
                .insert_reference(&reference(id, subject, embedding, 0))
                .await
                .unwrap();
        }
        store.delete_reference("c1").await.unwrap();
        let found = (
            store.search("s", &probe, 0.3, 10).await.unwrap(),
            store.identify(&probe, 10).await.unwrap(),
        );
        store.close().await;
        found
    };
    assert_eq!(before_search.len(), 2);
    assert_eq!(before_identify.len(), 2);

    let store = EmbeddedStore::open(dir.path()).await.unwrap();
    let after_search = store.search("s", &probe, 0.3, 10).await.unwrap();
    let after_identify = store.identify(&probe, 10).await.unwrap();
    assert_eq!(after_search.len(), before_search.len());
    for (after, before) in after_search.iter().zip(&before_search) {
        assert_eq!(
            (&after.photo_id, after.face_index, after.bbox),
            (&before.photo_id, before.face_index, before.bbox)
        );
        assert_eq!(
            after.detection_confidence.to_bits(),
            before.detection_confidence.to_bits()
        );
        assert!((after.similarity - before.similarity).abs() < 1e-6);
    }
    assert_eq!(after_identify.len(), before_identify.len());
    for (after, before) in after_identify.iter().zip(&before_identify) {
        assert_eq!(
            (&after.subject, &after.reference_id),
            (&before.subject, &before.reference_id)
        );
        assert!((after.similarity - before.similarity).abs() < 1e-6);
    }
    assert!(
        store
            .search("gone", &probe, -1.0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_same_photo(&store.photo("s", "p1").await.unwrap().unwrap(), &indexed);
    assert_eq!(store.status("s").await.unwrap().indexed_faces, 3);
}

#[tokio::test]
async fn migrations_go_down_and_up_again() {
    let dir = TempDir::new("migrations");
    let store = EmbeddedStore::open(dir.path()).await.unwrap();
    store
        .insert_reference(&reference("r", "alice", random_unit(MODEL, DIM, 1), 0))
        .await
        .unwrap();
    store.close().await;

    let pool = connect(dir.path()).await;
    MIGRATOR.undo(&pool, 0).await.unwrap();
    assert_eq!(tables(&pool).await, ["_sqlx_migrations"]);
    MIGRATOR.run(&pool).await.unwrap();
    assert_eq!(tables(&pool).await, ALL_TABLES);
    pool.close().await;

    let store = EmbeddedStore::open(dir.path()).await.unwrap();
    assert!(store.subjects().await.unwrap().is_empty());
    store
        .insert_reference(&reference("r", "alice", random_unit(MODEL, DIM, 1), 0))
        .await
        .unwrap();
    assert_eq!(
        store
            .identify(&random_unit(MODEL, DIM, 1), 1)
            .await
            .unwrap()[0]
            .reference_id,
        "r"
    );
}
