//! Users: insertion, lookup, their verified face, refresh tokens and deletion with
//! everything of theirs.

use futures_util::future::join_all;

use super::fixtures::{
    DIM, MODEL, SECRET, add_user, delivery, hook, job, live_result, liveness_session,
    password_hash, scan, token, transaction, unit, upload_key, user, user_face, verified,
};
use crate::account::{RefreshUse, Role};
use crate::ports::{
    JobQueue, LivenessSessionStore, ScanStore, TransactionStore, UserStore, WebhookStore,
};
use crate::similarity::cosine;
use crate::webhooks::WebhookEvent;

pub async fn users_are_stored_and_looked_up<S: UserStore + ?Sized>(store: &S) {
    let alice = user("u1", "alice", Role::Admin, 2_000);
    let bob = user("u2", "bob", Role::Client, 1_000);
    let cy = user("u0", "cy", Role::Operator, 2_000);
    for u in [&alice, &bob, &cy] {
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

    // Oldest first, ids breaking ties.
    assert_eq!(store.users().await.unwrap(), [bob, cy, alice]);
}

pub async fn a_stored_face_marks_the_user_verified<S: UserStore + ?Sized>(store: &S) {
    add_user(store, "u1", 0).await;
    assert!(store.user_face("u1").await.unwrap().is_none());

    let first = user_face("u1", unit(MODEL, DIM, 1), 5_000);
    store.set_user_face(&first).await.unwrap();
    let read = store.user_face("u1").await.unwrap().unwrap();
    assert_eq!((&read.face, read.created_at), (&first.face, 5_000));
    assert_eq!(read.quality.to_bits(), first.quality.to_bits());
    assert_eq!(read.embedding.model(), first.embedding.model());
    assert!(cosine(&read.embedding, &first.embedding).unwrap() > 0.9999);
    let verified_user = store.user("u1").await.unwrap().unwrap();
    assert!(verified_user.verified);
    assert_eq!(verified_user.verified_at, Some(5_000));

    // A later face replaces the first.
    let second = user_face("u1", unit(MODEL, DIM, 2), 9_000);
    store.set_user_face(&second).await.unwrap();
    let read = store.user_face("u1").await.unwrap().unwrap();
    assert!(cosine(&read.embedding, &second.embedding).unwrap() > 0.9999);
    assert_eq!(
        store.user("u1").await.unwrap().unwrap().verified_at,
        Some(9_000)
    );

    // A face needs its user.
    let orphan = user_face("nobody", unit(MODEL, DIM, 3), 0);
    assert!(store.set_user_face(&orphan).await.is_err());
    assert!(store.user_face("nobody").await.unwrap().is_none());
}

/// The user's face, tokens, jobs, scans, liveness sessions, transactions and hooks go; the
/// upload keys of their unfinished jobs, the photos of their scans and their sessions'
/// audit frames come back for deletion.
pub async fn deleting_a_user_removes_everything_of_theirs<S>(store: &S)
where
    S: UserStore
        + JobQueue
        + TransactionStore
        + ScanStore
        + LivenessSessionStore
        + WebhookStore
        + ?Sized,
{
    add_user(store, "u1", 0).await;
    add_user(store, "u2", 0).await;
    store
        .set_user_face(&user_face("u1", unit(MODEL, DIM, 1), 10))
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
    let done = store.claim_job("j3", 100, 200).await.unwrap().unwrap();
    store.finish(&done.id, &verified(), 110).await.unwrap();
    assert!(store.claim_job("j2", 120, 200).await.unwrap().is_some());
    for (id, user_id) in [("x1", "u1"), ("x2", "u2")] {
        store
            .insert_transaction(&transaction(id, user_id, 50, false))
            .await
            .unwrap();
    }
    for (id, user_id) in [("s1", "u1"), ("s2", "u2")] {
        store.insert_scan(&scan(id, user_id, 60)).await.unwrap();
    }
    for (id, user_id) in [("l1", "u1"), ("l2", "u2")] {
        store
            .insert_liveness_session(&liveness_session(id, user_id, 70))
            .await
            .unwrap();
        store
            .complete_liveness_session(id, &live_result(id))
            .await
            .unwrap();
    }
    for (id, owner) in [("h1", "user:u1"), ("h2", "user:u2")] {
        store
            .insert_webhook(&hook(id, owner, &WebhookEvent::ALL, 0), SECRET)
            .await
            .unwrap();
    }
    // A delivery about u1 to u2's hook goes with u1.
    assert!(
        store
            .enqueue_delivery(&delivery("j1", "h2", "u1", 0))
            .await
            .unwrap()
    );

    let mut uploads = store.delete_user("u1").await.unwrap().unwrap();
    uploads.sort();
    assert_eq!(
        uploads,
        [
            "audit/l1".into(),
            "scans/s1".into(),
            upload_key("j1"),
            upload_key("j2")
        ]
    );
    assert!(store.liveness_session("l1").await.unwrap().is_none());
    assert!(store.liveness_session("l2").await.unwrap().is_some());

    assert!(store.user("u1").await.unwrap().is_none());
    assert!(store.user_by_name("name-u1").await.unwrap().is_none());
    assert!(store.user_face("u1").await.unwrap().is_none());
    assert_eq!(
        store.use_refresh_token("t1", 0).await.unwrap(),
        RefreshUse::Invalid
    );
    for id in ["j1", "j2", "j3"] {
        assert!(store.job(id).await.unwrap().is_none(), "{id}");
    }
    assert!(store.transactions("u1", 0, 1_000).await.unwrap().is_empty());
    assert!(store.scan("s1").await.unwrap().is_none());
    assert!(store.webhooks("user:u1").await.unwrap().is_empty());
    assert!(store.webhook("h1").await.unwrap().is_none());
    assert!(store.deliveries("h2", 10).await.unwrap().is_empty());

    // The other user keeps theirs.
    assert!(store.user("u2").await.unwrap().is_some());
    assert!(store.job("j4").await.unwrap().is_some());
    assert_eq!(store.transactions("u2", 0, 1_000).await.unwrap().len(), 1);
    assert!(store.scan("s2").await.unwrap().is_some());
    assert!(store.webhook("h2").await.unwrap().is_some());

    assert!(store.delete_user("u1").await.unwrap().is_none());
    // A user without unfinished jobs leaves nothing to clean up.
    add_user(store, "u3", 0).await;
    assert_eq!(store.delete_user("u3").await.unwrap(), Some(Vec::new()));
    // The username is free again.
    add_user(store, "u1", 0).await;
}

pub async fn a_refresh_token_is_fresh_once_then_replayed_until_its_family_is_revoked<
    S: UserStore + ?Sized,
>(
    store: &S,
) {
    add_user(store, "u1", 0).await;
    let first = token("d1", "u1", "f1", 10_000);
    let rotated = token("d2", "u1", "f1", 20_000);
    let other_login = token("d3", "u1", "f2", 20_000);
    for t in [&first, &rotated, &other_login] {
        store.insert_refresh_token(t).await.unwrap();
    }

    assert_eq!(
        store.use_refresh_token("d1", 1_000).await.unwrap(),
        RefreshUse::Fresh(first)
    );
    let replayed = RefreshUse::Replayed {
        family: "f1".into(),
    };
    assert_eq!(
        store.use_refresh_token("d1", 1_001).await.unwrap(),
        replayed
    );

    // Revoking the family turns its unused tokens into replays; other families stay.
    store.revoke_refresh_family("f1").await.unwrap();
    assert_eq!(
        store.use_refresh_token("d2", 1_002).await.unwrap(),
        replayed
    );
    assert_eq!(
        store.use_refresh_token("d3", 1_003).await.unwrap(),
        RefreshUse::Fresh(other_login)
    );
    // Revoking again (or an unknown family) is harmless.
    store.revoke_refresh_family("f1").await.unwrap();
    store.revoke_refresh_family("unknown").await.unwrap();
}

pub async fn unknown_and_expired_refresh_tokens_are_invalid<S: UserStore + ?Sized>(store: &S) {
    add_user(store, "u1", 0).await;
    store
        .insert_refresh_token(&token("d1", "u1", "f1", 5_000))
        .await
        .unwrap();
    store
        .insert_refresh_token(&token("d2", "u1", "f2", 5_000))
        .await
        .unwrap();

    assert_eq!(
        store.use_refresh_token("unknown", 0).await.unwrap(),
        RefreshUse::Invalid
    );
    // Expired at `expires_at`; an expired token is not marked used.
    assert_eq!(
        store.use_refresh_token("d1", 5_000).await.unwrap(),
        RefreshUse::Invalid
    );
    assert!(matches!(
        store.use_refresh_token("d1", 4_999).await.unwrap(),
        RefreshUse::Fresh(_)
    ));
    // Used, then expired: invalid rather than a replay.
    assert!(matches!(
        store.use_refresh_token("d1", 4_999).await.unwrap(),
        RefreshUse::Replayed { .. }
    ));
    assert_eq!(
        store.use_refresh_token("d1", 6_000).await.unwrap(),
        RefreshUse::Invalid
    );
    // Revoked, then expired: invalid too.
    store.revoke_refresh_family("f2").await.unwrap();
    assert_eq!(
        store.use_refresh_token("d2", 6_000).await.unwrap(),
        RefreshUse::Invalid
    );

    // A token needs its user.
    assert!(
        store
            .insert_refresh_token(&token("d9", "nobody", "f9", 5_000))
            .await
            .is_err()
    );
}

/// Many callers (on every store of `stores`, which share one backend; the first must be
/// fresh) present one token at once: one finds it fresh, every other a replay.
pub async fn a_refresh_token_is_fresh_for_one_of_concurrent_callers<S: UserStore + ?Sized>(
    stores: &[&S],
) {
    const CALLERS_PER_STORE: usize = 4;
    add_user(stores[0], "u1", 0).await;
    stores[0]
        .insert_refresh_token(&token("d1", "u1", "f1", 10_000))
        .await
        .unwrap();
    let uses = stores.iter().flat_map(|store| {
        (0..CALLERS_PER_STORE)
            .map(move |_| async move { store.use_refresh_token("d1", 1_000).await.unwrap() })
    });
    let uses = join_all(uses).await;
    let fresh = uses
        .iter()
        .filter(|u| matches!(u, RefreshUse::Fresh(_)))
        .count();
    assert_eq!(fresh, 1, "{uses:?}");
    assert!(
        uses.iter()
            .all(|u| matches!(u, RefreshUse::Fresh(_) | RefreshUse::Replayed { .. })),
        "{uses:?}"
    );
}
