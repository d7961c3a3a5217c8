//! Webhooks: who hears of which user, idempotent queueing, claiming with a lease,
//! retries and settling, the delivery log and what deleting removes.

use std::collections::HashSet;

use futures_util::future::join_all;

use super::fixtures::{SECRET, add_user, api_key, delivery, hook};
use crate::account::Scope;
use crate::ports::{ApiKeyStore, UserStore, WebhookStore};
use crate::webhooks::{DeliveryState, Webhook, WebhookEvent};

/// User `u1` and their hook `h1` for every event.
async fn with_hook<S: UserStore + WebhookStore + ?Sized>(store: &S) {
    add_user(store, "u1", 0).await;
    store
        .insert_webhook(&hook("h1", "user:u1", &WebhookEvent::ALL, 10), SECRET)
        .await
        .unwrap();
}

fn ids(hooks: &[Webhook]) -> Vec<&str> {
    hooks.iter().map(|h| h.id.as_str()).collect()
}

pub async fn hooks_are_listed_by_owner_and_deleted_only_by_it<
    S: UserStore + WebhookStore + ?Sized,
>(
    store: &S,
) {
    with_hook(store).await;
    let scans = hook("h2", "user:u1", &[WebhookEvent::ScanCompleted], 5);
    store.insert_webhook(&scans, SECRET).await.unwrap();
    store
        .insert_webhook(&hook("h0", "user:u1", &WebhookEvent::ALL, 10), SECRET)
        .await
        .unwrap();
    store
        .insert_webhook(&hook("h3", "user:u2", &WebhookEvent::ALL, 1), SECRET)
        .await
        .unwrap();
    // Ids are unique.
    assert!(store.insert_webhook(&scans, SECRET).await.is_err());
    assert_eq!(
        ids(&store.webhooks("user:u1").await.unwrap()),
        ["h2", "h0", "h1"]
    );
    assert_eq!(store.webhook("h2").await.unwrap(), Some(scans));
    assert_eq!(store.webhook("missing").await.unwrap(), None);

    assert!(!store.delete_webhook("h1", "user:u2").await.unwrap());
    assert!(store.delete_webhook("h1", "user:u1").await.unwrap());
    assert!(!store.delete_webhook("h1", "user:u1").await.unwrap());
    assert_eq!(ids(&store.webhooks("user:u1").await.unwrap()), ["h2", "h0"]);
}

pub async fn a_user_s_events_reach_their_hooks_and_unrevoked_keys_hooks<
    S: UserStore + ApiKeyStore + WebhookStore + ?Sized,
>(
    store: &S,
) {
    with_hook(store).await;
    add_user(store, "u2", 0).await;
    for id in ["k1", "k2"] {
        store
            .insert_api_key(&api_key(id, &[Scope::Admin], 0), &format!("digest-{id}"))
            .await
            .unwrap();
    }
    for (at, (id, owner, events)) in (20..).zip([
        ("h-u2", "user:u2", WebhookEvent::ALL.as_slice()),
        ("h-k1", "key:k1", WebhookEvent::ALL.as_slice()),
        ("h-k2", "key:k2", WebhookEvent::ALL.as_slice()),
        (
            "h-scans",
            "user:u1",
            [WebhookEvent::ScanCompleted].as_slice(),
        ),
        // A key id that does not exist.
        ("h-k9", "key:k9", WebhookEvent::ALL.as_slice()),
        // Not a key's nor this user's.
        ("h-u1x", "user:u1x", WebhookEvent::ALL.as_slice()),
    ]) {
        store
            .insert_webhook(&hook(id, owner, events, at), SECRET)
            .await
            .unwrap();
    }
    let verification = WebhookEvent::VerificationCompleted;
    assert_eq!(
        ids(&store.subscribers(verification, "u1").await.unwrap()),
        ["h1", "h-k1", "h-k2"]
    );
    assert_eq!(
        ids(&store
            .subscribers(WebhookEvent::ScanCompleted, "u1")
            .await
            .unwrap()),
        ["h1", "h-k1", "h-k2", "h-scans"]
    );
    assert_eq!(
        ids(&store.subscribers(verification, "u2").await.unwrap()),
        ["h-u2", "h-k1", "h-k2"]
    );
    // A revoked key's hooks hear nothing more.
    assert!(store.revoke_api_key("k2", 30).await.unwrap());
    assert_eq!(
        ids(&store.subscribers(verification, "u1").await.unwrap()),
        ["h1", "h-k1"]
    );
}

pub async fn enqueueing_the_same_delivery_again_keeps_the_first<
    S: UserStore + WebhookStore + ?Sized,
>(
    store: &S,
) {
    with_hook(store).await;
    let first = delivery("j1", "h1", "u1", 100);
    assert!(store.enqueue_delivery(&first).await.unwrap());
    let mut again = delivery("j1", "h1", "u1", 200);
    r#"{"job_id":"changed"}"#.clone_into(&mut again.payload);
    assert!(!store.enqueue_delivery(&again).await.unwrap());
    assert_eq!(store.deliveries("h1", 10).await.unwrap(), [first]);

    // Gone hooks and users are skipped rather than failing the job.
    assert!(
        !store
            .enqueue_delivery(&delivery("j1", "missing", "u1", 100))
            .await
            .unwrap()
    );
    assert!(
        !store
            .enqueue_delivery(&delivery("j2", "h1", "nobody", 100))
            .await
            .unwrap()
    );
    assert_eq!(store.deliveries("h1", 10).await.unwrap().len(), 1);
}

pub async fn a_claimed_delivery_is_leased_retried_and_delivered<
    S: UserStore + WebhookStore + ?Sized,
>(
    store: &S,
) {
    with_hook(store).await;
    store
        .enqueue_delivery(&delivery("j2", "h1", "u1", 200))
        .await
        .unwrap();
    store
        .enqueue_delivery(&delivery("j1", "h1", "u1", 100))
        .await
        .unwrap();
    // Nothing is due before its time.
    assert!(store.claim_delivery(99, 1_000).await.unwrap().is_none());

    let claimed = store.claim_delivery(500, 1_000).await.unwrap().unwrap();
    assert_eq!(claimed.delivery.id, "j1:h1");
    assert_eq!(claimed.delivery.attempts, 1);
    assert_eq!(claimed.delivery.payload, r#"{"job_id":"j1"}"#);
    assert_eq!(claimed.url, "https://hooks.example.com/h1");
    assert_eq!(claimed.secret, SECRET);
    // One delivery per hook at a time: j2 waits while j1 is leased.
    assert!(store.claim_delivery(500, 1_000).await.unwrap().is_none());
    assert!(store.claim_delivery(999, 2_000).await.unwrap().is_none());

    // A worker that died: the lease runs out and the delivery is claimed again.
    let again = store.claim_delivery(1_000, 2_000).await.unwrap().unwrap();
    assert_eq!(
        (again.delivery.id.as_str(), again.delivery.attempts),
        ("j1:h1", 2)
    );

    store
        .retry_delivery("j1:h1", Some(500), "the receiver answered 500", 5_000)
        .await
        .unwrap();
    let log = store.deliveries("h1", 10).await.unwrap();
    let waiting = log.iter().find(|d| d.id == "j1:h1").unwrap();
    assert_eq!(
        (
            waiting.state,
            waiting.attempts,
            waiting.last_status,
            waiting.next_attempt_at
        ),
        (DeliveryState::Pending, 2, Some(500), 5_000)
    );
    assert_eq!(
        waiting.last_error.as_deref(),
        Some("the receiver answered 500")
    );
    // The hook is free again: j2 is next, and j1 is not due before 5000.
    let j2 = store.claim_delivery(4_999, 9_000).await.unwrap().unwrap();
    assert_eq!(
        (j2.delivery.id.as_str(), j2.delivery.attempts),
        ("j2:h1", 1)
    );
    assert!(store.claim_delivery(4_999, 9_000).await.unwrap().is_none());
    // Due, but j2 still holds the hook.
    assert!(store.claim_delivery(5_000, 9_000).await.unwrap().is_none());
    store.delivered("j2:h1", 200, 5_000).await.unwrap();
    let third = store.claim_delivery(5_000, 9_000).await.unwrap().unwrap();
    assert_eq!(
        (third.delivery.id.as_str(), third.delivery.attempts),
        ("j1:h1", 3)
    );

    store.delivered("j1:h1", 204, 5_100).await.unwrap();
    // Late news from a worker whose lease ran out changes nothing once settled.
    store
        .retry_delivery("j1:h1", None, "timeout", 6_000)
        .await
        .unwrap();
    store.fail_delivery("j1:h1", None, "timeout").await.unwrap();
    let done = store.deliveries("h1", 10).await.unwrap();
    let done = done.iter().find(|d| d.id == "j1:h1").unwrap();
    assert_eq!(
        (
            done.state,
            done.last_status,
            done.delivered_at,
            &done.last_error
        ),
        (DeliveryState::Delivered, Some(204), Some(5_100), &None)
    );
    assert!(
        store
            .claim_delivery(100_000, 200_000)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn a_failed_delivery_is_never_claimed_again<S: UserStore + WebhookStore + ?Sized>(
    store: &S,
) {
    with_hook(store).await;
    store
        .enqueue_delivery(&delivery("j1", "h1", "u1", 0))
        .await
        .unwrap();
    store.claim_delivery(10, 100).await.unwrap().unwrap();
    store
        .fail_delivery("j1:h1", Some(503), "the receiver answered 503")
        .await
        .unwrap();
    assert!(
        store
            .claim_delivery(1_000_000, 2_000_000)
            .await
            .unwrap()
            .is_none()
    );
    let failed = &store.deliveries("h1", 10).await.unwrap()[0];
    assert_eq!(
        (
            failed.state,
            failed.attempts,
            failed.last_status,
            failed.delivered_at
        ),
        (DeliveryState::Failed, 1, Some(503), None)
    );
    assert_eq!(
        failed.last_error.as_deref(),
        Some("the receiver answered 503")
    );
}

pub async fn the_delivery_log_is_newest_first_and_limited<S: UserStore + WebhookStore + ?Sized>(
    store: &S,
) {
    with_hook(store).await;
    for (job, at) in [("j1", 1), ("j3", 3), ("j2", 2)] {
        store
            .enqueue_delivery(&delivery(job, "h1", "u1", at))
            .await
            .unwrap();
    }
    let log = store.deliveries("h1", 2).await.unwrap();
    let log: Vec<&str> = log.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(log, ["j3:h1", "j2:h1"]);
    assert!(store.deliveries("h1", 0).await.unwrap().is_empty());
    assert!(store.deliveries("other", 10).await.unwrap().is_empty());
}

pub async fn deleting_a_hook_or_a_user_removes_their_deliveries<
    S: UserStore + ApiKeyStore + WebhookStore + ?Sized,
>(
    store: &S,
) {
    with_hook(store).await;
    add_user(store, "u2", 0).await;
    store
        .insert_api_key(&api_key("k1", &[Scope::Admin], 0), "digest-k1")
        .await
        .unwrap();
    for (id, owner) in [("hk", "key:k1"), ("h2", "user:u1")] {
        store
            .insert_webhook(&hook(id, owner, &WebhookEvent::ALL, 0), SECRET)
            .await
            .unwrap();
    }
    for (job, hook, user) in [
        ("j1", "h1", "u1"),
        ("j1", "hk", "u1"),
        ("j2", "hk", "u2"),
        ("j1", "h2", "u1"),
    ] {
        assert!(
            store
                .enqueue_delivery(&delivery(job, hook, user, 0))
                .await
                .unwrap()
        );
    }
    assert!(store.delete_webhook("h2", "user:u1").await.unwrap());
    assert!(store.deliveries("h2", 10).await.unwrap().is_empty());
    // Re-created under the same id, it starts with an empty log.
    store
        .insert_webhook(&hook("h2", "user:u2", &WebhookEvent::ALL, 0), SECRET)
        .await
        .unwrap();
    assert!(store.deliveries("h2", 10).await.unwrap().is_empty());

    // Forgetting u1 removes their hooks and every delivery about them, the key's included.
    assert!(store.delete_user("u1").await.unwrap().is_some());
    assert!(store.webhooks("user:u1").await.unwrap().is_empty());
    assert!(store.deliveries("h1", 10).await.unwrap().is_empty());
    assert_eq!(ids(&store.webhooks("key:k1").await.unwrap()), ["hk"]);
    let left: Vec<String> = store
        .deliveries("hk", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(left, ["j2:hk"]);
    // What is left is still claimed.
    let claimed = store.claim_delivery(1, 100).await.unwrap().unwrap();
    assert_eq!(claimed.delivery.id, "j2:hk");
    assert!(store.claim_delivery(1, 100).await.unwrap().is_none());
}

/// Claimers on every store at once (`stores` share one backend; the first must be fresh)
/// never get the same delivery.
pub async fn concurrent_claimers_never_share_a_delivery<S: UserStore + WebhookStore + ?Sized>(
    stores: &[&S],
) {
    const DELIVERIES: usize = 30;
    const CLAIMERS_PER_STORE: usize = 4;
    with_hook(stores[0]).await;
    for i in 0..DELIVERIES {
        let job = format!("j{i:02}");
        stores[0]
            .enqueue_delivery(&delivery(&job, "h1", "u1", 0))
            .await
            .unwrap();
    }
    let claimers = stores.iter().flat_map(|store| {
        (0..CLAIMERS_PER_STORE).map(move |_| async move {
            let mut claimed = Vec::new();
            // Settling what it claimed frees the hook for the next one.
            while let Some(c) = store.claim_delivery(10, 1_000_000).await.unwrap() {
                store.delivered(&c.delivery.id, 200, 10).await.unwrap();
                claimed.push(c.delivery.id);
            }
            claimed
        })
    });
    let claimed: Vec<String> = join_all(claimers).await.into_iter().flatten().collect();
    let unique: HashSet<&String> = claimed.iter().collect();
    assert_eq!(
        claimed.len(),
        DELIVERIES,
        "a delivery was claimed twice or not at all"
    );
    assert_eq!(unique.len(), DELIVERIES);
    let log = stores[0].deliveries("h1", DELIVERIES).await.unwrap();
    assert!(log.iter().all(|d| d.attempts == 1), "{log:?}");
}
