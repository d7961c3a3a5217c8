//! The ports of webhooks: the hooks and their delivery queue, and the transport that
//! sends one delivery.

use async_trait::async_trait;

use crate::failure::Result;
use crate::model::Timestamp;
use crate::webhooks::{ClaimedDelivery, Delivery, Webhook, WebhookEvent};

/// Registered webhooks and their durable delivery queue (at least once: a claimed
/// delivery that is neither settled nor retried before its lease ends is claimed again).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores the hook with the secret its deliveries are signed with (sealed at rest
    /// where the store encrypts).
    async fn insert_webhook(&self, hook: &Webhook, secret: &str) -> Result<()>;
    /// The hooks of `owner` (`user:<id>` or `key:<id>`), oldest first.
    async fn webhooks(&self, owner: &str) -> Result<Vec<Webhook>>;
    async fn webhook(&self, id: &str) -> Result<Option<Webhook>>;
    /// Removes the hook (and its deliveries) when `owner` owns it; returns whether it did.
    async fn delete_webhook(&self, id: &str, owner: &str) -> Result<bool>;
    /// The hooks that want `event` about `user_id`: those the user owns, and those of API
    /// keys that are not revoked (an integration sees every user's results).
    async fn subscribers(&self, event: WebhookEvent, user_id: &str) -> Result<Vec<Webhook>>;
    /// Queues the delivery unless one with its id exists already, or its hook or user is
    /// gone; returns whether it was queued.
    async fn enqueue_delivery(&self, delivery: &Delivery) -> Result<bool>;
    /// Claims the pending delivery due soonest (due: `next_attempt_at` passed and no
    /// unexpired lease): counts the attempt and leases it until `lease_until`, atomically.
    async fn claim_delivery(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<ClaimedDelivery>>;
    /// The receiver accepted it (`status` is 2xx).
    async fn delivered(&self, id: &str, status: u16, now: Timestamp) -> Result<()>;
    /// Due again at `next_attempt_at` after a failed attempt.
    async fn retry_delivery(
        &self,
        id: &str,
        status: Option<u16>,
        error: &str,
        next_attempt_at: Timestamp,
    ) -> Result<()>;
    /// Given up after its last attempt.
    async fn fail_delivery(&self, id: &str, status: Option<u16>, error: &str) -> Result<()>;
    /// The newest `limit` deliveries of a hook, newest first.
    async fn deliveries(&self, webhook_id: &str, limit: usize) -> Result<Vec<Delivery>>;
}

/// Sends one delivery: POSTs its payload to `url`, signed with `secret`.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// The HTTP status the receiver answered; `Err` when none came (connection refused,
    /// timeout, refused target address).
    async fn send(&self, url: &str, secret: &str, delivery: &Delivery) -> Result<u16>;
}
