//! Webhooks: who hears of which user, idempotent queueing, claiming with a lease,
//! retries and settling, the delivery log, what deleting removes, and sealed secrets.

use std::sync::Arc;

use facegate_core::ports::WebhookStore;
use facegate_core::webhooks::WebhookEvent;
use facegate_store_embedded::StoreError;

use crate::support::accounts::{SECRET, add_user, delivery, hook};
use crate::support::sealing::{XorSealer, stored_in_files};
use crate::support::{TempDir, connect, open_store};

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_need_their_key() {
    let dir = TempDir::new("webhooks-sealed");
    let store = facegate_store_embedded::open(dir.path(), Arc::new(XorSealer))
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
    let plain = open_store(plain_dir.path()).await;
    add_user(&plain, "u1", 0).await;
    plain
        .insert_webhook(&hook("h1", "user:u1", &WebhookEvent::ALL, 0), SECRET)
        .await
        .unwrap();
    plain.close().await;
    assert!(stored_in_files(plain_dir.path(), SECRET.as_bytes()));
}
