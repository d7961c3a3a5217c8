//! Connecting, migrating (up and down), refusing encryption, and the HNSW indexes.

use facegate_core::ports::{CollectionStore, NoEncryption, ReferenceStore, Sealer};
use facegate_store_postgres::{MIGRATOR, StoreError};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgConnection};

use crate::support::{
    DIM, MODEL, TestDatabase, assert_close, assert_same_photo, at_similarity, open_store, photo,
    reference, unit,
};

/// Every table the migrations create, by name.
fn all_tables() -> Vec<&'static str> {
    let mut tables = vec!["_sqlx_migrations"];
    tables.extend(facegate_store_sql::TABLES);
    tables
}

async fn tables(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
         ORDER BY tablename COLLATE \"C\"",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

async fn has_vector_extension(conn: &mut PgConnection) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')")
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn reconnecting_keeps_the_data_and_migrates_nothing_twice() {
    let Some((db, store)) = open_store("reconnect").await else {
        return;
    };
    let probe = unit(MODEL, DIM, 1);
    let stored = photo("s", "p", vec![at_similarity(&probe, 0.8, 2)], 7);
    store.insert_photo(&stored).await.unwrap();
    store
        .insert_reference(&reference("r1", "alice", probe.clone(), 3))
        .await
        .unwrap();
    store.close().await;

    let store = facegate_store_postgres::connect(&db.url, &NoEncryption)
        .await
        .unwrap();
    assert_same_photo(&store.photo("s", "p").await.unwrap().unwrap(), &stored);
    let found = store.identify(&probe, 1).await.unwrap();
    assert_eq!(found[0].reference_id, "r1");
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(store.vectors().pool())
        .await
        .unwrap();
    let migrations = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .count();
    assert_eq!(applied, migrations as i64);
}

#[tokio::test]
async fn migrations_go_down_and_up_again() {
    let Some((db, store)) = open_store("migrations").await else {
        return;
    };
    let mut conn = db.connect().await;
    assert_eq!(tables(&mut conn).await, all_tables());
    assert!(has_vector_extension(&mut conn).await);
    store
        .insert_reference(&reference("r1", "alice", unit(MODEL, DIM, 1), 0))
        .await
        .unwrap();

    // Down to the collections: the accounts, scans and webhooks go, the rest stays.
    MIGRATOR.undo(store.vectors().pool(), 3).await.unwrap();
    assert_eq!(
        tables(&mut conn).await,
        ["_sqlx_migrations", "face_references", "faces", "photos"]
    );
    // Down to the first migration: the collections go, the references stay.
    MIGRATOR.undo(store.vectors().pool(), 1).await.unwrap();
    assert_eq!(
        tables(&mut conn).await,
        ["_sqlx_migrations", "face_references"]
    );
    assert!(store.reference("r1").await.unwrap().is_some());
    // Down to nothing. The extension stays: other schemas may use it.
    MIGRATOR.undo(store.vectors().pool(), 0).await.unwrap();
    assert_eq!(tables(&mut conn).await, ["_sqlx_migrations"]);
    assert!(has_vector_extension(&mut conn).await);
    assert!(store.reference("r1").await.is_err());

    // And up again, empty and working.
    MIGRATOR.run(store.vectors().pool()).await.unwrap();
    assert_eq!(tables(&mut conn).await, all_tables());
    assert!(store.reference("r1").await.unwrap().is_none());
    let p = photo("s", "p", vec![unit(MODEL, DIM, 2)], 1);
    assert!(store.insert_photo(&p).await.unwrap().1);
    assert_eq!(store.status("s").await.unwrap().indexed_faces, 1);
}

/// Stands for the `Keyring` of facegate-crypto: encryption at rest is on.
struct Keyed;

impl Sealer for Keyed {
    fn key_id(&self) -> Option<&str> {
        Some("k1")
    }

    fn seal(&self, plain: &[u8]) -> facegate_core::Result<Vec<u8>> {
        Ok(plain.to_vec())
    }

    fn open(&self, data: &[u8]) -> facegate_core::Result<Vec<u8>> {
        Ok(data.to_vec())
    }
}

#[tokio::test]
async fn a_sealer_with_a_key_is_refused_before_anything_is_written() {
    let Some(db) = TestDatabase::create("encryption").await else {
        return;
    };
    let error = facegate_store_postgres::connect(&db.url, &Keyed)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::EncryptionUnsupported { key_id } if key_id == "k1"),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("embedded store"), "{message}");
    assert!(
        message.contains("encrypt the PostgreSQL volume"),
        "{message}"
    );

    let pool = PgPoolOptions::new().connect(&db.url).await.unwrap();
    assert!(matches!(
        facegate_store_postgres::from_pool(pool, &Keyed).await,
        Err(StoreError::EncryptionUnsupported { .. })
    ));
    assert!(tables(&mut db.connect().await).await.is_empty());
}

/// How often an index was scanned, flushing the statistics of `conn`'s own backend first.
async fn index_scans(conn: &mut PgConnection, index: &str) -> i64 {
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query_scalar("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = $1")
        .bind(index)
        .fetch_one(&mut *conn)
        .await
        .unwrap()
}

/// The partial HNSW indexes match the searches' SQL: with sequential scans and sorts
/// priced out, 512-d searches go through them and still find the right rows.
#[tokio::test]
async fn searches_of_512_d_probes_use_the_hnsw_indexes() {
    let Some(db) = TestDatabase::create("hnsw").await else {
        return;
    };
    // One connection, so its backend's statistics can be flushed and read below.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET enable_seqscan = off").await?;
                conn.execute("SET enable_sort = off").await?;
                Ok(())
            })
        })
        .connect(&db.url)
        .await
        .unwrap();
    let store = facegate_store_postgres::from_pool(pool.clone(), &NoEncryption)
        .await
        .unwrap();
    let probe = unit(MODEL, DIM, 99);
    for (id, subject, similarity, seed) in [
        ("a1", "alice", 0.9, 1),
        ("a2", "alice", 0.95, 2),
        ("b1", "bob", 0.5, 3),
    ] {
        let embedding = at_similarity(&probe, similarity, seed);
        store
            .insert_reference(&reference(id, subject, embedding, 0))
            .await
            .unwrap();
    }
    let near = |similarity, seed| at_similarity(&probe, similarity, seed);
    for p in [
        photo("s", "p1", vec![near(0.7, 4), near(0.8, 5)], 1),
        photo("s", "p2", vec![near(0.6, 6)], 2),
        photo("other", "p3", vec![near(0.99, 7)], 3),
    ] {
        store.insert_photo(&p).await.unwrap();
    }

    let mut conn = pool.acquire().await.unwrap();
    let references_before = index_scans(&mut conn, "face_references_embedding_512").await;
    let faces_before = index_scans(&mut conn, "faces_embedding_512").await;
    drop(conn);

    let found = store.identify(&probe, 10).await.unwrap();
    let ids: Vec<_> = found.iter().map(|m| m.reference_id.as_str()).collect();
    assert_eq!(ids, ["a2", "b1"]);
    assert_close(found[0].similarity, 0.95);
    let found = store.search("s", &probe, 0.5, 10).await.unwrap();
    let ids: Vec<_> = found
        .iter()
        .map(|m| (m.photo_id.as_str(), m.face_index))
        .collect();
    assert_eq!(ids, [("p1", 1), ("p2", 0)]);
    assert_close(found[0].similarity, 0.8);

    let mut conn = pool.acquire().await.unwrap();
    assert!(index_scans(&mut conn, "face_references_embedding_512").await > references_before);
    assert!(index_scans(&mut conn, "faces_embedding_512").await > faces_before);
}
