//! [`WebhookStore`] on the `webhooks` and `webhook_deliveries` tables.
//!
//! Signing secrets are sealed by the store's [`Sealer`] like embeddings, so they are not
//! readable at rest when encryption is on. Claiming is one `UPDATE`, atomic against every
//! other connection, like the job queue's.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::model::Timestamp;
use facegate_core::ports::{Sealer, WebhookStore};
use facegate_core::webhooks::{ClaimedDelivery, Delivery, DeliveryState, Webhook, WebhookEvent};

use crate::error::StoreError;
use crate::store::EmbeddedStore;

const HOOK_COLUMNS: &str = "id, owner, url, events, created_at";

const DELIVERY_COLUMNS: &str = "id, webhook_id, user_id, event, payload, state, attempts, \
     last_status, last_error, next_attempt_at, created_at, delivered_at";

#[derive(sqlx::FromRow)]
struct HookRow {
    id: String,
    owner: String,
    url: String,
    /// A JSON array of event names.
    events: String,
    created_at: i64,
}

impl TryFrom<HookRow> for Webhook {
    type Error = StoreError;

    fn try_from(row: HookRow) -> Result<Self, StoreError> {
        Ok(Webhook {
            events: serde_json::from_str(&row.events)?,
            id: row.id,
            owner: row.owner,
            url: row.url,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    webhook_id: String,
    user_id: String,
    event: String,
    payload: String,
    state: String,
    attempts: u32,
    last_status: Option<i64>,
    last_error: Option<String>,
    next_attempt_at: i64,
    created_at: i64,
    delivered_at: Option<i64>,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;

    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str, value: &str| {
            StoreError::Corrupt(format!("unknown delivery {what} {value:?}"))
        };
        Ok(Delivery {
            event: WebhookEvent::parse(&row.event).ok_or_else(|| corrupt("event", &row.event))?,
            state: DeliveryState::parse(&row.state).ok_or_else(|| corrupt("state", &row.state))?,
            last_status: row
                .last_status
                .map(|s| u16::try_from(s).map_err(|_| corrupt("status", &s.to_string())))
                .transpose()?,
            id: row.id,
            webhook_id: row.webhook_id,
            user_id: row.user_id,
            payload: row.payload,
            attempts: row.attempts,
            last_error: row.last_error,
            next_attempt_at: row.next_attempt_at,
            created_at: row.created_at,
            delivered_at: row.delivered_at,
        })
    }
}

/// The secret as its row holds it: sealed with the sealer's current key, or plain UTF-8
/// when encryption is off.
fn seal_secret(sealer: &dyn Sealer, secret: &str) -> Result<(Vec<u8>, Option<String>), StoreError> {
    let key_id = sealer.key_id().map(str::to_owned);
    let blob = match key_id {
        Some(_) => sealer.seal(secret.as_bytes()).map_err(StoreError::Seal)?,
        None => secret.as_bytes().to_vec(),
    };
    Ok((blob, key_id))
}

fn open_secret(
    sealer: &dyn Sealer,
    blob: Vec<u8>,
    key_id: Option<String>,
) -> Result<String, StoreError> {
    let plain = match key_id {
        None => blob,
        Some(key_id) => {
            let plain = sealer.open(&blob).map_err(StoreError::Seal)?;
            // A sealer passes through what is not its envelope: unchanged means unopened.
            if plain == blob {
                return Err(StoreError::Unsealed { key_id });
            }
            plain
        }
    };
    String::from_utf8(plain)
        .map_err(|_| StoreError::Corrupt("a webhook secret is not UTF-8".to_owned()))
}

async fn insert(store: &EmbeddedStore, hook: &Webhook, secret: &str) -> Result<(), StoreError> {
    let (secret, key_id) = seal_secret(&*store.sealer, secret)?;
    sqlx::query(
        "INSERT INTO webhooks (id, owner, url, events, secret, key_id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&hook.id)
    .bind(&hook.owner)
    .bind(&hook.url)
    .bind(serde_json::to_string(&hook.events)?)
    .bind(secret)
    .bind(key_id)
    .bind(hook.created_at)
    .execute(&store.pool)
    .await?;
    Ok(())
}

async fn by_owner(store: &EmbeddedStore, owner: &str) -> Result<Vec<Webhook>, StoreError> {
    sqlx::query_as::<_, HookRow>(&format!(
        "SELECT {HOOK_COLUMNS} FROM webhooks WHERE owner = ? ORDER BY created_at, id"
    ))
    .bind(owner)
    .fetch_all(&store.pool)
    .await?
    .into_iter()
    .map(Webhook::try_from)
    .collect()
}

async fn get(store: &EmbeddedStore, id: &str) -> Result<Option<Webhook>, StoreError> {
    sqlx::query_as::<_, HookRow>(&format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE id = ?"))
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
        .map(Webhook::try_from)
        .transpose()
}

/// Its deliveries cascade.
async fn delete(store: &EmbeddedStore, id: &str, owner: &str) -> Result<bool, StoreError> {
    let deleted = sqlx::query("DELETE FROM webhooks WHERE id = ? AND owner = ?")
        .bind(id)
        .bind(owner)
        .execute(&store.pool)
        .await?
        .rows_affected();
    Ok(deleted == 1)
}

/// The user's own hooks and those of unrevoked API keys; the event is checked here rather
/// than in SQL (a handful of hooks).
async fn subscribers(
    store: &EmbeddedStore,
    event: WebhookEvent,
    user_id: &str,
) -> Result<Vec<Webhook>, StoreError> {
    let hooks = sqlx::query_as::<_, HookRow>(&format!(
        "SELECT {HOOK_COLUMNS} FROM webhooks AS w \
         WHERE w.owner = 'user:' || ?1 \
            OR (substr(w.owner, 1, 4) = 'key:' AND EXISTS ( \
                SELECT 1 FROM api_keys AS k \
                WHERE k.id = substr(w.owner, 5) AND k.revoked_at IS NULL)) \
         ORDER BY w.created_at, w.id"
    ))
    .bind(user_id)
    .fetch_all(&store.pool)
    .await?;
    let mut wanted = Vec::new();
    for row in hooks {
        let hook = Webhook::try_from(row)?;
        if hook.events.contains(&event) {
            wanted.push(hook);
        }
    }
    Ok(wanted)
}

/// `INSERT OR IGNORE` keeps the first delivery of an id; the `EXISTS` conditions skip a
/// hook deleted or a user forgotten since the subscribers were read (a foreign key
/// failure would fail the job's step instead).
async fn enqueue(store: &EmbeddedStore, delivery: &Delivery) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT OR IGNORE INTO webhook_deliveries (id, webhook_id, user_id, event, payload, \
         state, attempts, last_status, last_error, next_attempt_at, created_at, delivered_at) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 \
         WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?2) \
           AND EXISTS (SELECT 1 FROM users WHERE id = ?3)",
    )
    .bind(&delivery.id)
    .bind(&delivery.webhook_id)
    .bind(&delivery.user_id)
    .bind(delivery.event.as_str())
    .bind(&delivery.payload)
    .bind(delivery.state.as_str())
    .bind(delivery.attempts)
    .bind(delivery.last_status)
    .bind(&delivery.last_error)
    .bind(delivery.next_attempt_at)
    .bind(delivery.created_at)
    .bind(delivery.delivered_at)
    .execute(&store.pool)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    url: String,
    secret: Vec<u8>,
    key_id: Option<String>,
}

async fn claim(
    store: &EmbeddedStore,
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<Option<ClaimedDelivery>, StoreError> {
    loop {
        let Some(row) = sqlx::query_as::<_, DeliveryRow>(&format!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = ?2 \
             WHERE id = (SELECT id FROM webhook_deliveries \
                         WHERE state = 'pending' AND next_attempt_at <= ?1 \
                           AND (lease_until IS NULL OR lease_until <= ?1) \
                         ORDER BY next_attempt_at, created_at, id LIMIT 1) \
             RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(now)
        .bind(lease_until)
        .fetch_optional(&store.pool)
        .await?
        else {
            return Ok(None);
        };
        let delivery = Delivery::try_from(row)?;
        let target =
            sqlx::query_as::<_, TargetRow>("SELECT url, secret, key_id FROM webhooks WHERE id = ?")
                .bind(&delivery.webhook_id)
                .fetch_optional(&store.pool)
                .await?;
        // The hook was deleted in between, and the delivery with it: take the next one.
        let Some(target) = target else { continue };
        return Ok(Some(ClaimedDelivery {
            delivery,
            url: target.url,
            secret: open_secret(&*store.sealer, target.secret, target.key_id)?,
        }));
    }
}

/// Settling a delivery that is no longer pending (a worker whose lease ran out finishing
/// late, after another settled it) changes nothing.
async fn settle(
    store: &EmbeddedStore,
    id: &str,
    state: DeliveryState,
    status: Option<u16>,
    error: Option<&str>,
    delivered_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = ?, last_status = ?, last_error = ?, \
         delivered_at = ?, lease_until = NULL WHERE id = ? AND state = 'pending'",
    )
    .bind(state.as_str())
    .bind(status)
    .bind(error)
    .bind(delivered_at)
    .bind(id)
    .execute(&store.pool)
    .await?;
    Ok(())
}

async fn retry(
    store: &EmbeddedStore,
    id: &str,
    status: Option<u16>,
    error: &str,
    next_attempt_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET last_status = ?, last_error = ?, next_attempt_at = ?, \
         lease_until = NULL WHERE id = ? AND state = 'pending'",
    )
    .bind(status)
    .bind(error)
    .bind(next_attempt_at)
    .bind(id)
    .execute(&store.pool)
    .await?;
    Ok(())
}

async fn deliveries(
    store: &EmbeddedStore,
    webhook_id: &str,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    sqlx::query_as::<_, DeliveryRow>(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? \
         ORDER BY created_at DESC, id DESC LIMIT ?"
    ))
    .bind(webhook_id)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&store.pool)
    .await?
    .into_iter()
    .map(Delivery::try_from)
    .collect()
}

#[async_trait]
impl WebhookStore for EmbeddedStore {
    /// Fails (as an internal fault) when the id is taken.
    async fn insert_webhook(&self, hook: &Webhook, secret: &str) -> Result<()> {
        Ok(insert(self, hook, secret).await?)
    }

    async fn webhooks(&self, owner: &str) -> Result<Vec<Webhook>> {
        Ok(by_owner(self, owner).await?)
    }

    async fn webhook(&self, id: &str) -> Result<Option<Webhook>> {
        Ok(get(self, id).await?)
    }

    async fn delete_webhook(&self, id: &str, owner: &str) -> Result<bool> {
        Ok(delete(self, id, owner).await?)
    }

    async fn subscribers(&self, event: WebhookEvent, user_id: &str) -> Result<Vec<Webhook>> {
        Ok(subscribers(self, event, user_id).await?)
    }

    async fn enqueue_delivery(&self, delivery: &Delivery) -> Result<bool> {
        Ok(enqueue(self, delivery).await?)
    }

    async fn claim_delivery(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<ClaimedDelivery>> {
        Ok(claim(self, now, lease_until).await?)
    }

    async fn delivered(&self, id: &str, status: u16, now: Timestamp) -> Result<()> {
        Ok(settle(
            self,
            id,
            DeliveryState::Delivered,
            Some(status),
            None,
            Some(now),
        )
        .await?)
    }

    async fn retry_delivery(
        &self,
        id: &str,
        status: Option<u16>,
        error: &str,
        next_attempt_at: Timestamp,
    ) -> Result<()> {
        Ok(retry(self, id, status, error, next_attempt_at).await?)
    }

    async fn fail_delivery(&self, id: &str, status: Option<u16>, error: &str) -> Result<()> {
        Ok(settle(self, id, DeliveryState::Failed, status, Some(error), None).await?)
    }

    async fn deliveries(&self, webhook_id: &str, limit: usize) -> Result<Vec<Delivery>> {
        Ok(deliveries(self, webhook_id, limit).await?)
    }
}
