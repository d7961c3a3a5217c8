//! Webhooks: callers register a URL and hear when an asynchronous result of theirs is
//! ready. A finished job queues one delivery per interested hook (the [`JobListener`],
//! idempotent per job and hook); a worker sends them with [`WebhookService::deliver_next`],
//! signed with the hook's secret, and retries with doubling delays until the receiver
//! answers 2xx or the attempts run out.

mod target;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use target::{is_internal, validate_target};

use crate::account::{Job, JobResult, Principal, PrincipalKind, Scope};
use crate::error::ErrorCode;
use crate::failure::{Failure, Result};
use crate::model::Timestamp;
use crate::ports::{Clock, Credentials, JobListener, WebhookSender, WebhookStore};

/// What a webhook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// A user verification job finished (verified, rejected or failed).
    #[serde(rename = "verification.completed")]
    VerificationCompleted,
    /// A facial scan finished (scored, rejected or failed).
    #[serde(rename = "scan.completed")]
    ScanCompleted,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 2] = [
        WebhookEvent::VerificationCompleted,
        WebhookEvent::ScanCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::VerificationCompleted => "verification.completed",
            WebhookEvent::ScanCompleted => "scan.completed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == value)
    }

    /// The event a job's result announces.
    pub fn of(result: &JobResult) -> Self {
        match result {
            JobResult::Verification(_) => WebhookEvent::VerificationCompleted,
            JobResult::Scan(_) => WebhookEvent::ScanCompleted,
        }
    }
}

/// A registered webhook (its secret is kept by the store, never in this record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    /// Who registered it: `user:<id>` or `key:<id>` ([`Principal::actor`]).
    pub owner: String,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub created_at: Timestamp,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet accepted; due at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up after the last attempt.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// One event for one hook, and its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `<job id>:<webhook id>`: the same job never queues a hook twice.
    pub id: String,
    pub webhook_id: String,
    /// The user the event is about; forgetting them removes the delivery.
    pub user_id: String,
    pub event: WebhookEvent,
    /// The JSON body sent, exactly.
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// The HTTP status of the last attempt, when the receiver answered.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub next_attempt_at: Timestamp,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub delivered_at: Option<Timestamp>,
}

/// A claimed delivery with where to send it and the secret to sign it with.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for ClaimedDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedDelivery")
            .field("delivery", &self.delivery.id)
            .field("attempts", &self.delivery.attempts)
            .finish_non_exhaustive()
    }
}

/// Retries and the target rule of webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WebhookPolicy {
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// First retry delay; doubled on each attempt.
    pub retry_base_ms: i64,
    /// How long a worker holds a claimed delivery before another may take it; longer
    /// than the sender's timeout.
    pub lease_ms: i64,
    /// Allow loopback, private and link-local targets (tests, or hooks inside a trusted
    /// network).
    pub allow_private_targets: bool,
}

/// The adapters webhooks work through.
#[derive(Clone)]
pub struct WebhookPorts {
    pub store: Arc<dyn WebhookStore>,
    pub sender: Arc<dyn WebhookSender>,
    /// Generates the signing secrets.
    pub credentials: Arc<dyn Credentials>,
    pub clock: Arc<dyn Clock>,
}

debug_ports!(WebhookPorts);

/// Registration, the delivery log and delivery of webhooks.
#[derive(Debug, Clone)]
pub struct WebhookService {
    ports: WebhookPorts,
    policy: WebhookPolicy,
}

/// Prefix of signing secrets.
const SECRET_PREFIX: &str = "whsec_";
/// Hooks one owner may have.
pub const MAX_WEBHOOKS_PER_OWNER: usize = 25;

impl WebhookService {
    pub fn new(ports: WebhookPorts, policy: WebhookPolicy) -> Self {
        Self { ports, policy }
    }

    pub fn policy(&self) -> WebhookPolicy {
        self.policy
    }

    /// A new hook of the caller for `events` (every event when `None`); the signing
    /// secret is returned once. Users hear of their own results; API keys hear of every
    /// user's, so only keys with the `admin` scope may register.
    pub async fn register(
        &self,
        caller: &Principal,
        url: &str,
        events: Option<Vec<WebhookEvent>>,
    ) -> Result<(Webhook, String)> {
        if matches!(caller.kind, PrincipalKind::ApiKey { .. }) && !caller.has(Scope::Admin) {
            return Err(Failure::new(
                ErrorCode::Forbidden,
                "an API key hears of every user's results: registering a webhook needs the \
                 `admin` scope",
            ));
        }
        let url =
            validate_target(url, self.policy.allow_private_targets).map_err(Failure::validation)?;
        let mut wanted = Vec::new();
        for event in events.unwrap_or_else(|| WebhookEvent::ALL.to_vec()) {
            if !wanted.contains(&event) {
                wanted.push(event);
            }
        }
        if wanted.is_empty() {
            return Err(Failure::validation(
                "events must name at least one event, or be left out for all",
            ));
        }
        let owner = caller.actor();
        if self.ports.store.webhooks(&owner).await?.len() >= MAX_WEBHOOKS_PER_OWNER {
            return Err(Failure::validation(format!(
                "at most {MAX_WEBHOOKS_PER_OWNER} webhooks per caller: delete one first"
            )));
        }
        let hook = Webhook {
            id: uuid::Uuid::new_v4().to_string(),
            owner,
            url: url.into(),
            events: wanted,
            created_at: self.ports.clock.now(),
        };
        let secret = self.ports.credentials.new_secret(SECRET_PREFIX);
        self.ports.store.insert_webhook(&hook, &secret).await?;
        Ok((hook, secret))
    }

    /// The caller's hooks, oldest first.
    pub async fn list(&self, caller: &Principal) -> Result<Vec<Webhook>> {
        self.ports.store.webhooks(&caller.actor()).await
    }

    /// The caller's hook `id`; someone else's answers as if it did not exist.
    async fn owned(&self, caller: &Principal, id: &str) -> Result<Webhook> {
        match self.ports.store.webhook(id).await? {
            Some(hook) if hook.owner == caller.actor() => Ok(hook),
            _ => Err(Failure::not_found(format!("webhook {id}"))),
        }
    }

    /// Removes the caller's hook and its deliveries.
    pub async fn delete(&self, caller: &Principal, id: &str) -> Result<()> {
        if self.ports.store.delete_webhook(id, &caller.actor()).await? {
            Ok(())
        } else {
            Err(Failure::not_found(format!("webhook {id}")))
        }
    }

    /// The newest `limit` deliveries of the caller's hook, newest first.
    pub async fn deliveries(
        &self,
        caller: &Principal,
        id: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let hook = self.owned(caller, id).await?;
        self.ports.store.deliveries(&hook.id, limit).await
    }

    /// The body of the event: never images, embeddings or face landmarks.
    fn payload(
        delivery_id: &str,
        event: WebhookEvent,
        job: &Job,
        result: &JobResult,
        now: Timestamp,
    ) -> Result<String> {
        let mut result = serde_json::to_value(result)
            .map_err(|e| Failure::internal(format!("job result as JSON: {e}")))?;
        if let Some(fields) = result.as_object_mut() {
            fields.remove("face");
        }
        Ok(json!({
            "event": event,
            "delivery_id": delivery_id,
            "job_id": job.id,
            "user_id": job.request.user_id(),
            "created_at": crate::time::rfc3339(now),
            "result": result,
        })
        .to_string())
    }

    /// Claims the next due delivery and sends it: 2xx settles it, anything else is retried
    /// after `retry_base_ms` doubled per attempt, until `max_attempts`. Returns the
    /// delivery as it now stands, or `None` when none is due.
    pub async fn deliver_next(&self) -> Result<Option<Delivery>> {
        let now = self.ports.clock.now();
        let Some(claimed) = self
            .ports
            .store
            .claim_delivery(now, now + self.policy.lease_ms)
            .await?
        else {
            return Ok(None);
        };
        let ClaimedDelivery {
            mut delivery,
            url,
            secret,
        } = claimed;
        // The rule may have tightened since the hook was registered.
        let outcome = match validate_target(&url, self.policy.allow_private_targets) {
            Err(refused) => Err((None, refused, true)),
            Ok(_) => match self.ports.sender.send(&url, &secret, &delivery).await {
                Ok(status) if (200..300).contains(&status) => Ok(status),
                Ok(status) => Err((
                    Some(status),
                    format!("the receiver answered {status}"),
                    false,
                )),
                Err(e) => Err((None, e.message, false)),
            },
        };
        let now = self.ports.clock.now();
        match outcome {
            Ok(status) => {
                self.ports
                    .store
                    .delivered(&delivery.id, status, now)
                    .await?;
                delivery.state = DeliveryState::Delivered;
                delivery.last_status = Some(status);
                delivery.last_error = None;
                delivery.delivered_at = Some(now);
            }
            Err((status, error, permanent)) => {
                if permanent || delivery.attempts >= self.policy.max_attempts {
                    self.ports
                        .store
                        .fail_delivery(&delivery.id, status, &error)
                        .await?;
                    delivery.state = DeliveryState::Failed;
                } else {
                    let backoff =
                        self.policy.retry_base_ms << delivery.attempts.saturating_sub(1).min(16);
                    delivery.next_attempt_at = now + backoff;
                    self.ports
                        .store
                        .retry_delivery(&delivery.id, status, &error, delivery.next_attempt_at)
                        .await?;
                }
                delivery.last_status = status;
                delivery.last_error = Some(error);
            }
        }
        Ok(Some(delivery))
    }
}

/// Queues one delivery per hook that wants the finished job's event. Called again for the
/// same job (after a crash), it queues nothing new: delivery ids are `<job>:<hook>`.
#[async_trait]
impl JobListener for WebhookService {
    async fn job_finished(&self, job: &Job) -> Result<()> {
        let Some(result) = &job.result else {
            return Ok(());
        };
        let event = WebhookEvent::of(result);
        let user_id = job.request.user_id();
        let hooks = self.ports.store.subscribers(event, user_id).await?;
        let now = self.ports.clock.now();
        for hook in hooks {
            let id = format!("{}:{}", job.id, hook.id);
            let delivery = Delivery {
                payload: Self::payload(&id, event, job, result, now)?,
                id,
                webhook_id: hook.id,
                user_id: user_id.to_owned(),
                event,
                state: DeliveryState::Pending,
                attempts: 0,
                last_status: None,
                last_error: None,
                next_attempt_at: now,
                created_at: now,
                delivered_at: None,
            };
            self.ports.store.enqueue_delivery(&delivery).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
