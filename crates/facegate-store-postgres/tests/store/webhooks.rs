//! Webhooks and their delivery queue; secrets are stored plain in this store.

use facegate_core::conformance::fixtures::{SECRET, add_user, hook};
use facegate_core::ports::WebhookStore;
use facegate_core::webhooks::WebhookEvent;

use crate::support::open_store;

/// The store refuses encryption at rest (see lifecycle), so secrets are plain, as the
/// crate documentation says.
#[tokio::test]
async fn secrets_are_stored_plain() {
    let Some((db, store)) = open_store("webhook-secret").await else {
        return;
    };
    add_user(&store, "u1", 0).await;
    store
        .insert_webhook(&hook("h1", "user:u1", &WebhookEvent::ALL, 0), SECRET)
        .await
        .unwrap();
    let (stored, key_id): (Vec<u8>, Option<String>) =
        sqlx::query_as("SELECT secret, key_id FROM webhooks")
            .fetch_one(&mut db.connect().await)
            .await
            .unwrap();
    assert_eq!(stored, SECRET.as_bytes());
    assert_eq!(key_id, None);
}
