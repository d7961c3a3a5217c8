//! Webhooks: who hears of which user, idempotent queueing, claiming with a lease,
//! retries and settling, the delivery log, sealed secrets and what deleting removes.

use std::sync::Arc;

use facegate_core::account::Scope;
use facegate_core::ports::{ApiKeyStore, UserStore, WebhookStore};
use facegate_core::webhooks::{Delivery, DeliveryState, Webhook, WebhookEvent};
use facegate_store_embedded::{EmbeddedStore, StoreError};

use crate::support::accounts::{add_user, api_key};
use crate::support::sealing::{XorSealer, stored_in_files};
use crate::support::{TempDir, connect, open_store};

const SECRET: &str = "whsec_test-secret-0123456789";

fn hook(id: &str, owner: &str, events: &[WebhookEvent], created_at: i64) -> Webhook {
    Webhook {
        id: id.to_owned(),
        owner: owner.to_owned(),
        url: format!("https://hooks.example.com/{id}"),
        events: events.to_vec(),
        created_at,
    }
}

fn delivery(job_id: &str, webhook_id: &str, user_id: &str, at: i64) -> Delivery {
    Delivery {
        id: format!("{job_id}:{webhook_id}"),
        webhook_id: webhook_id.to_owned(),
        user_id: user_id.to_owned(),
        event: WebhookEvent::VerificationCompleted,
        payload: format!(r#"{{"job_id":"{job_id}"}}"#),
        state: DeliveryState::Pending,
        attempts: 0,
        last_status: None,
        last_error: None,
        next_attempt_at: at,
        created_at: at,
        delivered_at: None,
    }
}

/// A store with user `u1` and their hook `h1` for every event.
async fn with_hook(dir: &TempDir) -> EmbeddedStore {
    let store = open_store(dir.path()).await;
    add_user(&store, "u1", 0).await;
    store
        .insert_webhook(&hook("h1", "user:u1", &WebhookEvent::ALL, 10), SECRET)
        .await
        .unwrap();
    store
}

fn ids(hooks: &[Webhook]) -> Vec<&str> {
    hooks.iter().map(|h| h.id.as_str()).collect()
}

#[tokio::test]
async fn hooks_are_listed_by_owner_and_deleted_only_by_it() {
    let dir = TempDir::new("webhooks-owner");
    let store = with_hook(&dir).await;
    let scans = hook("h2", "user:u1", &[WebhookEvent::ScanCompleted], 5);
    store.insert_webhook(&scans, SECRET).await.unwrap();
    store
        .insert_webhook(&hook("h3", "user:u2", &WebhookEvent::ALL, 1), SECRET)
        .await
        .unwrap();
    assert_eq!(ids(&store.webhooks("user:u1").await.unwrap()), ["h2", "h1"]);
    assert_eq!(store.webhook("h2").await.unwrap(), Some(scans));
    assert_eq!(store.webhook("missing").await.unwrap(), None);

    assert!(!store.delete_webhook("h1", "user:u2").await.unwrap());
    assert!(store.delete_webhook("h1", "user:u1").await.unwrap());
    assert!(!store.delete_webhook("h1", "user:u1").await.unwrap());
    assert_eq!(ids(&store.webhooks("user:u1").await.unwrap()), ["h2"]);
}

#[tokio::test]
async fn a_user_s_events_reach_their_hooks_and_unrevoked_keys_hooks() {
    let dir = TempDir::new("webhooks-subscribers");
    let store = with_hook(&dir).await;
    add_user(&store, "u2", 0).await;
    store
        .insert_api_key(&api_key("k1", &[Scope::Admin], 0), "digest-k1")
        .await
        .unwrap();
    store
        .insert_api_key(&api_key("k2", &[Scope::Admin], 0), "digest-k2")
        .await
        .unwrap();
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

#[tokio::test]
async fn enqueueing_the_same_delivery_again_keeps_the_first() {
    let dir = TempDir::new("webhooks-enqueue");
    let store = with_hook(&dir).await;
    let first = delivery("j1", "h1", "u1", 100);
    assert!(store.enqueue_delivery(&first).await.unwrap());
    let mut again = delivery("j1", "h1", "u1", 200);
    again.payload = r#"{"job_id":"changed"}"#.to_owned();
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

#[tokio::test]
async fn a_claimed_delivery_is_leased_retried_and_delivered() {
    let dir = TempDir::new("webhooks-claim");
    let store = with_hook(&dir).await;
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
    assert_eq!(claimed.url, "https://hooks.example.com/h1");
    assert_eq!(claimed.secret, SECRET);
    // The lease hides it; the other one is next.
    let other = store.claim_delivery(500, 1_000).await.unwrap().unwrap();
    assert_eq!(other.delivery.id, "j2:h1");
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
    // j2's lease ran out too; once it is taken again, j1 is not due before 5000.
    let j2 = store.claim_delivery(4_999, 9_000).await.unwrap().unwrap();
    assert_eq!(
        (j2.delivery.id.as_str(), j2.delivery.attempts),
        ("j2:h1", 2)
    );
    assert!(store.claim_delivery(4_999, 9_000).await.unwrap().is_none());
    let third = store.claim_delivery(5_000, 9_000).await.unwrap().unwrap();
    assert_eq!(third.delivery.attempts, 3);

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
            .is_some_and(|c| c.delivery.id == "j2:h1")
    );
    assert!(
        store
            .claim_delivery(100_000, 200_000)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_failed_delivery_is_never_claimed_again() {
    let dir = TempDir::new("webhooks-fail");
    let store = with_hook(&dir).await;
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
}

#[tokio::test]
async fn the_delivery_log_is_newest_first_and_limited() {
    let dir = TempDir::new("webhooks-log");
    let store = with_hook(&dir).await;
    for (job, at) in [("j1", 1), ("j3", 3), ("j2", 2)] {
        store
            .enqueue_delivery(&delivery(job, "h1", "u1", at))
            .await
            .unwrap();
    }
    let log = store.deliveries("h1", 2).await.unwrap();
    let log: Vec<&str> = log.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(log, ["j3:h1", "j2:h1"]);
    assert!(store.deliveries("other", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn deleting_a_hook_or_a_user_removes_their_deliveries() {
    let dir = TempDir::new("webhooks-cascade");
    let store = with_hook(&dir).await;
    add_user(&store, "u2", 0).await;
    store
        .insert_api_key(&api_key("k1", &[Scope::Admin], 0), "digest-k1")
        .await
        .unwrap();
    store
        .insert_webhook(&hook("hk", "key:k1", &WebhookEvent::ALL, 0), SECRET)
        .await
        .unwrap();
    store
        .insert_webhook(&hook("h2", "user:u1", &WebhookEvent::ALL, 0), SECRET)
        .await
        .unwrap();
    for (job, hook, user) in [
        ("j1", "h1", "u1"),
        ("j1", "hk", "u1"),
        ("j2", "hk", "u2"),
        ("j1", "h2", "u1"),
    ] {
        store
            .enqueue_delivery(&delivery(job, hook, user, 0))
            .await
            .unwrap();
    }
    assert!(store.delete_webhook("h2", "user:u1").await.unwrap());
    let pool = connect(dir.path()).await;
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = 'h2'").await,
        0
    );

    // Forgetting u1 removes their hooks and every delivery about them, the key's included.
    assert!(store.delete_user("u1").await.unwrap().is_some());
    assert!(store.webhooks("user:u1").await.unwrap().is_empty());
    assert_eq!(ids(&store.webhooks("key:k1").await.unwrap()), ["hk"]);
    let left: Vec<String> = sqlx::query_scalar("SELECT id FROM webhook_deliveries ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, ["j2:hk"]);
    assert_eq!(count("SELECT COUNT(*) FROM webhooks").await, 1);
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_need_their_key() {
    let dir = TempDir::new("webhooks-sealed");
    let store = EmbeddedStore::open(dir.path(), Arc::new(XorSealer))
        .await
        .unwrap();
    add_user(&store, "u1", 0).await;
    store
        .insert_webhook(&hook("h1", "user:u1", &WebhookEvent::ALL, 0), SECRET)
        .await
        .unwrap();
    store
        .enqueue_delivery(&delivery("j1", "h1", "u1", 0))
        .await
        .unwrap();
    let claimed = store.claim_delivery(1, 100).await.unwrap().unwrap();
    assert_eq!(claimed.secret, SECRET);
    store.close().await;
    assert!(!stored_in_files(dir.path(), SECRET.as_bytes()));
    let key_id: Option<String> = sqlx::query_scalar("SELECT key_id FROM webhooks")
        .fetch_one(&connect(dir.path()).await)
        .await
        .unwrap();
    assert_eq!(key_id.as_deref(), Some("test"));

    // Opened without the key, a sealed secret is an error, never garbage sent as a key.
    let unsealed = open_store(dir.path()).await;
    let err = unsealed.claim_delivery(1_000, 2_000).await.unwrap_err();
    assert!(
        err.message.contains(
            &StoreError::Unsealed {
                key_id: "test".into()
            }
            .to_string()
        ),
        "{err}"
    );

    // With encryption off the secret is stored plain (the test above could see it).
    let plain_dir = TempDir::new("webhooks-plain");
    let plain = with_hook(&plain_dir).await;
    plain.close().await;
    assert!(stored_in_files(plain_dir.path(), SECRET.as_bytes()));
}
