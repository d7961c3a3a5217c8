//! What the admin statistics and the metrics read: the inventory and the gauges.

use super::fixtures::{DIM, MODEL, add_user, api_key, job, transaction, unit, user_face, verified};
use crate::account::Scope;
use crate::face::BoundingBox;
use crate::model::{IndexedFace, IndexedPhoto, Reference};
use crate::ports::{
    ApiKeyStore, CollectionStore, GaugeSource, Inventory, InventorySource, JobQueue, QueueLevel,
    ReferenceStore, TransactionStore, UserStore,
};

fn reference(id: &str, subject: &str, seed: u64) -> Reference {
    Reference {
        id: id.to_owned(),
        subject: subject.to_owned(),
        face: super::fixtures::detection(0.98),
        quality: 0.8,
        embedding: unit(MODEL, DIM, seed),
        created_at: 0,
        crop: None,
    }
}

fn photo(session: &str, photo_id: &str, seeds: &[u64]) -> IndexedPhoto {
    IndexedPhoto {
        session_id: session.to_owned(),
        photo_id: photo_id.to_owned(),
        faces: (0_u32..)
            .zip(seeds)
            .map(|(i, seed)| IndexedFace {
                face_index: i,
                bbox: BoundingBox::new(0.0, 0.0, 50.0, 60.0),
                detection_score: 0.9,
                embedding: unit(MODEL, DIM, *seed),
            })
            .collect(),
        indexed_at: 0,
    }
}

/// Users, verified users, unrevoked API keys, subjects, references, sessions with a
/// photo, photos, faces, transactions and jobs by state.
pub async fn the_inventory_counts_every_record<S>(store: &S)
where
    S: InventorySource
        + UserStore
        + ApiKeyStore
        + ReferenceStore
        + CollectionStore
        + TransactionStore
        + JobQueue
        + ?Sized,
{
    assert_eq!(store.inventory().await.unwrap(), Inventory::default());

    for id in ["u1", "u2", "u3"] {
        add_user(store, id, 0).await;
    }
    store
        .set_user_face(&user_face("u2", unit(MODEL, DIM, 1), 10))
        .await
        .unwrap();
    for (i, id) in ["k1", "k2", "k3"].into_iter().enumerate() {
        store
            .insert_api_key(&api_key(id, &[Scope::Search], 0), &format!("d{i}"))
            .await
            .unwrap();
    }
    store.revoke_api_key("k2", 5).await.unwrap();
    for (id, subject, seed) in [("r1", "alice", 2), ("r2", "alice", 3), ("r3", "bob", 4)] {
        store
            .insert_reference(&reference(id, subject, seed))
            .await
            .unwrap();
    }
    for p in [
        photo("s1", "p1", &[5, 6]),
        photo("s1", "p2", &[]),
        photo("s2", "p1", &[7]),
    ] {
        store.insert_photo(&p).await.unwrap();
    }
    for id in ["x1", "x2"] {
        store
            .insert_transaction(&transaction(id, "u1", 0, false))
            .await
            .unwrap();
    }
    for (id, created_at) in [("j1", 1), ("j2", 2), ("j3", 3), ("j4", 4)] {
        store.enqueue(&job(id, "u1", created_at)).await.unwrap();
    }
    let done = store.claim(10, 100).await.unwrap().unwrap();
    store.finish(&done.id, &verified(), 11).await.unwrap();
    store.claim(10, 100).await.unwrap().unwrap();

    assert_eq!(
        store.inventory().await.unwrap(),
        Inventory {
            users: 3,
            verified_users: 1,
            api_keys: 2,
            subjects: 2,
            references: 3,
            sessions: 2,
            photos: 3,
            faces: 3,
            transactions: 2,
            jobs_queued: 2,
            jobs_running: 1,
            jobs_done: 1,
        }
    );
}

fn level(lag: u64, oldest_age_seconds: f64) -> QueueLevel {
    QueueLevel {
        topic: "jobs".to_owned(),
        lag,
        oldest_age_seconds,
    }
}

/// The job queue's backlog counts the queued jobs due now and ages the oldest by its
/// creation; the pool reports at least one connection, no more idle than open.
pub async fn the_gauges_count_due_queued_jobs_and_age_the_oldest<
    S: GaugeSource + UserStore + JobQueue + ?Sized,
>(
    store: &S,
) {
    let gauges = store.gauges(1_000).await.unwrap();
    assert_eq!(gauges.queues, [level(0, 0.0)]);

    add_user(store, "u1", 0).await;
    for (id, created_at) in [("j1", 100), ("j2", 200), ("j3", 900)] {
        store.enqueue(&job(id, "u1", created_at)).await.unwrap();
    }
    // j3 is not due before its creation time.
    assert_eq!(store.gauges(500).await.unwrap().queues, [level(2, 0.4)]);
    // A claimed job is no longer waiting.
    let claimed = store.claim(500, 10_000).await.unwrap().unwrap();
    assert_eq!(claimed.id, "j1");
    assert_eq!(store.gauges(500).await.unwrap().queues, [level(1, 0.3)]);
    // A job waiting out a retry delay is not due either, then counts from its creation.
    store.retry("j1", "transient", 3_000, 600).await.unwrap();
    assert_eq!(store.gauges(2_200).await.unwrap().queues, [level(2, 2.0)]);
    assert_eq!(store.gauges(3_000).await.unwrap().queues, [level(3, 2.9)]);

    let gauges = store.gauges(3_000).await.unwrap();
    assert!(gauges.db_pool_connections >= 1, "{gauges:?}");
    assert!(
        gauges.db_pool_idle_connections <= gauges.db_pool_connections,
        "{gauges:?}"
    );
}
