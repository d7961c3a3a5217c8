//! Opening, restarting and migrating the store.

use facegate_core::ports::{CollectionStore, JobQueue, ReferenceStore, UserStore};
use facegate_store_embedded::{DATABASE_FILE, MIGRATOR, StoreError};
use sqlx::SqlitePool;

use crate::support::accounts::{add_user, job};
use crate::support::{
    DIM, MODEL, TempDir, assert_same_photo, assert_same_photo_matches, assert_same_subject_matches,
    at_similarity, connect, open_store, photo, plain, reference, unit,
};

/// The tables of the first migration.
const INITIAL_TABLES: [&str; 4] = ["_sqlx_migrations", "face_references", "faces", "photos"];

/// Every table, by name, once migrated.
fn all_tables() -> Vec<&'static str> {
    let mut tables = vec!["_sqlx_migrations"];
    tables.extend(facegate_store_sql::TABLES);
    tables
}

/// Tables by name, without SQLite's own (`sqlite_sequence`, which AUTOINCREMENT creates
/// and nothing can drop).
async fn tables(pool: &SqlitePool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' \
         ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The columns of `table`, in order.
async fn columns(pool: &SqlitePool, table: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn open_creates_the_folder_and_a_wal_database() {
    let dir = TempDir::new("open");
    let nested = dir.path().join("data").join("store");
    let store = open_store(&nested).await;
    assert_eq!(store.vectors().path(), nested.join(DATABASE_FILE));
    assert!(store.vectors().path().is_file());
    store.close().await;

    let pool = connect(&nested).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(tables(&pool).await, all_tables());

    // A file where the folder should be is reported, not panicked on.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = facegate_store_embedded::open(&file, plain())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err}");
}

#[tokio::test]
async fn everything_survives_a_restart() {
    let dir = TempDir::new("restart");
    let probe = unit(MODEL, DIM, 77);
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
        let store = open_store(dir.path()).await;
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

    let store = open_store(dir.path()).await;
    let after_search = store.search("s", &probe, 0.3, 10).await.unwrap();
    let after_identify = store.identify(&probe, 10).await.unwrap();
    assert_same_photo_matches(&after_search, &before_search);
    assert_same_subject_matches(&after_identify, &before_identify);
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
    let store = open_store(dir.path()).await;
    store
        .insert_reference(&reference("r", "alice", unit(MODEL, DIM, 1), 0))
        .await
        .unwrap();
    add_user(&store, "u1", 0).await;
    store.close().await;

    // The accounts migration alone: its tables and the key columns go, references stay.
    let pool = connect(dir.path()).await;
    MIGRATOR.undo(&pool, 1).await.unwrap();
    assert_eq!(tables(&pool).await, INITIAL_TABLES);
    for table in ["face_references", "faces"] {
        assert!(!columns(&pool, table).await.contains(&"key_id".to_owned()));
    }
    let references: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM face_references")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(references, 1);
    MIGRATOR.run(&pool).await.unwrap();
    assert_eq!(tables(&pool).await, all_tables());
    assert_eq!(columns(&pool, "faces").await.last().unwrap(), "key_id");

    MIGRATOR.undo(&pool, 0).await.unwrap();
    assert_eq!(tables(&pool).await, ["_sqlx_migrations"]);
    MIGRATOR.run(&pool).await.unwrap();
    assert_eq!(tables(&pool).await, all_tables());
    pool.close().await;

    let store = open_store(dir.path()).await;
    assert!(store.subjects().await.unwrap().is_empty());
    assert!(store.users().await.unwrap().is_empty());
    store
        .insert_reference(&reference("r", "alice", unit(MODEL, DIM, 1), 0))
        .await
        .unwrap();
    assert_eq!(
        store.identify(&unit(MODEL, DIM, 1), 1).await.unwrap()[0].reference_id,
        "r"
    );
    add_user(&store, "u1", 0).await;
    store.enqueue(&job("j1", "u1", 0)).await.unwrap();
    assert_eq!(store.claim(0, 10).await.unwrap().unwrap().id, "j1");
}
