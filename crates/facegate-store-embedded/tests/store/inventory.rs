//! The inventory: counts of what every table holds.

use facegate_core::account::Scope;
use facegate_core::ports::{
    ApiKeyStore, CollectionStore, Inventory, InventorySource, JobQueue, ReferenceStore,
    TransactionStore, UserStore,
};

use crate::support::accounts::{add_user, api_key, job, transaction, user_face, verified};
use crate::support::{DIM, MODEL, TempDir, open_store, photo, random_unit, reference};

#[tokio::test]
async fn the_inventory_counts_every_record() {
    let dir = TempDir::new("inventory");
    let store = open_store(dir.path()).await;
    assert_eq!(store.inventory().await.unwrap(), Inventory::default());

    for id in ["u1", "u2", "u3"] {
        add_user(&store, id, 0).await;
    }
    store
        .set_user_face(&user_face("u2", random_unit(MODEL, DIM, 1), 10))
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
            .insert_reference(&reference(id, subject, random_unit(MODEL, DIM, seed), 0))
            .await
            .unwrap();
    }
    let face = |seed| random_unit(MODEL, DIM, seed);
    for p in [
        photo("s1", "p1", vec![face(5), face(6)], 0),
        photo("s1", "p2", vec![], 0),
        photo("s2", "p1", vec![face(7)], 0),
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
