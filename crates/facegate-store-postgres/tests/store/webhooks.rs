//! Webhooks and their delivery queue; secrets are stored plain in this store.

use facegate_core::conformance::fixtures::{SECRET, add_user, hook};
use facegate_core::ports::WebhookStore;
use facegate_core::webhooks::WebhookEvent;

use crate::support::open_store;

conformance!(
    webhooks: hooks_are_listed_by_owner_and_deleted_only_by_it,
    a_user_s_events_reach_their_hooks_and_unrevoked_keys_hooks,
    enqueueing_the_same_delivery_again_keeps_the_first,
    a_claimed_delivery_is_leased_retried_and_delivered,
    a_failed_delivery_is_never_claimed_again,
    the_delivery_log_is_newest_first_and_limited,
    deleting_a_hook_or_a_user_removes_their_deliveries,
);
conformance_concurrent!(webhooks: concurrent_claimers_never_share_a_delivery);

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
    let stored: String = sqlx::query_scalar("SELECT secret FROM webhooks")
        .fetch_one(&mut db.connect().await)
        .await
        .unwrap();
    assert_eq!(stored, SECRET);
}
