//! The in-process workers of webhook deliveries (`webhooks.concurrency` of them side by
//! side): each sends due deliveries one after another until asked to stop, woken when a
//! finished job queues some, and otherwise polling for retries that came due. The queue
//! hands out one delivery per hook at a time, so a slow receiver holds one worker.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use facegate_core::account::Job;
use facegate_core::ports::JobListener;
use facegate_core::webhooks::{DeliveryState, WebhookService};
use tokio::sync::{Notify, watch};

/// How often an idle worker looks for due deliveries (retries, expired leases) unprompted.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// The job runner's listener: queues the deliveries, then wakes the delivery worker.
#[derive(Debug)]
pub struct WakeDeliveries {
    webhooks: WebhookService,
    due: Arc<Notify>,
}

impl WakeDeliveries {
    pub fn new(webhooks: WebhookService, due: Arc<Notify>) -> Self {
        Self { webhooks, due }
    }
}

#[async_trait]
impl JobListener for WakeDeliveries {
    async fn job_finished(&self, job: &Job) -> facegate_core::Result<()> {
        self.webhooks.job_finished(job).await?;
        self.due.notify_one();
        Ok(())
    }
}

/// Sends deliveries until `stop` turns true; the one in progress is finished first (at
/// most the sender's timeout).
pub async fn run(webhooks: WebhookService, due: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let idle = match webhooks.deliver_next().await {
            Ok(Some(delivery)) => {
                // No URL, payload or secret in logs: the ids say which hook and job.
                let fields = (
                    delivery.id.as_str(),
                    delivery.event.as_str(),
                    delivery.attempts,
                    delivery.last_status,
                );
                match delivery.state {
                    DeliveryState::Delivered => tracing::info!(
                        delivery_id = fields.0,
                        event = fields.1,
                        attempts = fields.2,
                        status = fields.3,
                        "webhook delivered"
                    ),
                    DeliveryState::Pending => tracing::warn!(
                        delivery_id = fields.0,
                        event = fields.1,
                        attempts = fields.2,
                        status = fields.3,
                        error = delivery.last_error,
                        next_attempt_at = delivery.next_attempt_at,
                        "webhook delivery failed; will retry"
                    ),
                    DeliveryState::Failed => tracing::error!(
                        delivery_id = fields.0,
                        event = fields.1,
                        attempts = fields.2,
                        status = fields.3,
                        error = delivery.last_error,
                        "webhook delivery given up"
                    ),
                }
                false
            }
            Ok(None) => true,
            Err(e) => {
                tracing::error!(error = %e, "the webhook delivery queue failed");
                true
            }
        };
        if idle {
            tokio::select! {
                () = due.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
