//! Users: insertion, lookup, their verified face and deletion with everything of theirs.

use facegate_core::account::{RefreshUse, Role};
use facegate_core::ports::{JobQueue, TransactionStore, UserStore};

use crate::support::accounts::{
    add_user, job, password_hash, token, transaction, upload_key, user, user_face, verified,
};
use crate::support::{DIM, MODEL, TempDir, assert_close, cosine, open_store, random_unit};

#[tokio::test]
async fn users_are_stored_and_looked_up() {
    let dir = TempDir::new("users");
    let store = open_store(dir.path()).await;
    let alice = user("u1", "alice", Role::Admin, 2_000);
    let bob = user("u2", "bob", Role::Client, 1_000);
    for u in [&alice, &bob] {
        assert!(store.insert_user(u, &password_hash(u)).await.unwrap());
    }

    // A taken username is refused, not an error; a taken id is a fault.
    let other_alice = user("u3", "alice", Role::Operator, 3_000);
    assert!(!store.insert_user(&other_alice, "h").await.unwrap());
    assert!(store.user("u3").await.unwrap().is_none());
    assert!(
        store
            .insert_user(&user("u1", "carol", Role::Client, 0), "h")
            .await
            .is_err()
    );

    let (found, hash) = store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(found, alice);
    assert_eq!(hash, "hash-u1");
    assert!(store.user_by_name("nobody").await.unwrap().is_none());
    assert_eq!(store.user("u2").await.unwrap().unwrap(), bob);
    assert!(store.user("missing").await.unwrap().is_none());

    // Oldest first.
    assert_eq!(store.users().await.unwrap(), [bob, alice]);
}

#[tokio::test]
async fn a_stored_face_marks_the_user_verified() {
    let dir = TempDir::new("user-face");
    let store = open_store(dir.path()).await;
    add_user(&store, "u1", 0).await;
    assert!(store.user_face("u1").await.unwrap().is_none());

    let first = user_face("u1", random_unit(MODEL, DIM, 1), 5_000);
    store.set_user_face(&first).await.unwrap();
    let read = store.user_face("u1").await.unwrap().unwrap();
    assert_eq!((read.face, read.created_at), (first.face, 5_000));
    assert_eq!(read.quality.to_bits(), first.quality.to_bits());
    assert_close(cosine(&read.embedding, &first.embedding), 1.0);
    let verified_user = store.user("u1").await.unwrap().unwrap();
    assert!(verified_user.verified);
    assert_eq!(verified_user.verified_at, Some(5_000));

    // A later face replaces the first.
    let second = user_face("u1", random_unit(MODEL, DIM, 2), 9_000);
    store.set_user_face(&second).await.unwrap();
    let read = store.user_face("u1").await.unwrap().unwrap();
    assert_close(cosine(&read.embedding, &second.embedding), 1.0);
    assert_eq!(
        store.user("u1").await.unwrap().unwrap().verified_at,
        Some(9_000)
    );

    // A face needs its user.
    let orphan = user_face("nobody", random_unit(MODEL, DIM, 3), 0);
    assert!(store.set_user_face(&orphan).await.is_err());
    assert!(store.user_face("nobody").await.unwrap().is_none());
}

#[tokio::test]
async fn deleting_a_user_removes_everything_of_theirs() {
    let dir = TempDir::new("delete-user");
    let store = open_store(dir.path()).await;
    add_user(&store, "u1", 0).await;
    add_user(&store, "u2", 0).await;
    store
        .set_user_face(&user_face("u1", random_unit(MODEL, DIM, 1), 10))
        .await
        .unwrap();
    store
        .insert_refresh_token(&token("t1", "u1", "f1", 1_000_000))
        .await
        .unwrap();
    // j1 stays queued, j2 is running, j3 is done; j4 is another user's.
    for (id, user_id, created_at) in [("j1", "u1", 30), ("j2", "u1", 20), ("j3", "u1", 10)] {
        store.enqueue(&job(id, user_id, created_at)).await.unwrap();
    }
    store.enqueue(&job("j4", "u2", 40)).await.unwrap();
    let done = store.claim(100, 200).await.unwrap().unwrap();
    store.finish(&done.id, &verified(), 110).await.unwrap();
    let running = store.claim(120, 200).await.unwrap().unwrap();
    assert_eq!((done.id.as_str(), running.id.as_str()), ("j3", "j2"));
    for (id, user_id) in [("x1", "u1"), ("x2", "u2")] {
        store
            .insert_transaction(&transaction(id, user_id, 50, false))
            .await
            .unwrap();
    }

    let mut uploads = store.delete_user("u1").await.unwrap().unwrap();
    uploads.sort();
    assert_eq!(uploads, [upload_key("j1"), upload_key("j2")]);

    assert!(store.user("u1").await.unwrap().is_none());
    assert!(store.user_face("u1").await.unwrap().is_none());
    assert_eq!(
        store.use_refresh_token("t1", 0).await.unwrap(),
        RefreshUse::Invalid
    );
    for id in ["j1", "j2", "j3"] {
        assert!(store.job(id).await.unwrap().is_none(), "{id}");
    }
    assert!(store.transactions("u1", 0, 1_000).await.unwrap().is_empty());

    // The other user keeps theirs.
    assert!(store.user("u2").await.unwrap().is_some());
    assert!(store.job("j4").await.unwrap().is_some());
    assert_eq!(store.transactions("u2", 0, 1_000).await.unwrap().len(), 1);

    assert!(store.delete_user("u1").await.unwrap().is_none());
    // A user without unfinished jobs leaves nothing to clean up.
    add_user(&store, "u3", 0).await;
    assert_eq!(store.delete_user("u3").await.unwrap(), Some(Vec::new()));
}
