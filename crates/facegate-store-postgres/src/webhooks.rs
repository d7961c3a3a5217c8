//! [`WebhookStore`] on the `webhooks` and `webhook_deliveries` tables.
//!
//! Signing secrets are stored plain: this store refuses to open with encryption at rest
//! on (see the crate documentation). Claiming is one `UPDATE` of the row a sub-select
//! picks with `FOR UPDATE SKIP LOCKED`, atomic across replicas like the job queue's.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::model::Timestamp;
use facegate_core::ports::WebhookStore;
use facegate_core::webhooks::{ClaimedDelivery, Delivery, DeliveryState, Webhook, WebhookEvent};

use crate::error::StoreError;
use crate::store::PostgresStore;

const HOOK_COLUMNS: &str = "w.id, w.owner, w.url, w.events::text AS events, w.created_at";

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
    attempts: i32,
    last_status: Option<i32>,
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
            attempts: u32::try_from(row.attempts)
                .map_err(|_| corrupt("attempts", &row.attempts.to_string()))?,
            id: row.id,
            webhook_id: row.webhook_id,
            user_id: row.user_id,
            payload: row.payload,
            last_error: row.last_error,
            next_attempt_at: row.next_attempt_at,
            created_at: row.created_at,
            delivered_at: row.delivered_at,
        })
    }
}

/// A claimed delivery and where it goes; `url` and `secret` are `NULL` when its hook was
/// deleted meanwhile.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    #[sqlx(flatten)]
    delivery: DeliveryRow,
    url: Option<String>,
    secret: Option<String>,
}

async fn insert(store: &PostgresStore, hook: &Webhook, secret: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhooks (id, owner, url, events, secret, created_at) \
         VALUES ($1, $2, $3, $4::jsonb, $5, $6)",
    )
    .bind(&hook.id)
    .bind(&hook.owner)
    .bind(&hook.url)
    .bind(serde_json::to_string(&hook.events)?)
    .bind(secret)
    .bind(hook.created_at)
    .execute(&store.pool)
    .await?;
    Ok(())
}

async fn by_owner(store: &PostgresStore, owner: &str) -> Result<Vec<Webhook>, StoreError> {
    sqlx::query_as::<_, HookRow>(&format!(
        "SELECT {HOOK_COLUMNS} FROM webhooks AS w WHERE w.owner = $1 \
         ORDER BY w.created_at, w.id COLLATE \"C\""
    ))
    .bind(owner)
    .fetch_all(&store.pool)
    .await?
    .into_iter()
    .map(Webhook::try_from)
    .collect()
}

async fn get(store: &PostgresStore, id: &str) -> Result<Option<Webhook>, StoreError> {
    sqlx::query_as::<_, HookRow>(&format!(
        "SELECT {HOOK_COLUMNS} FROM webhooks AS w WHERE w.id = $1"
    ))
    .bind(id)
    .fetch_optional(&store.pool)
    .await?
    .map(Webhook::try_from)
    .transpose()
}

/// Its deliveries cascade.
async fn delete(store: &PostgresStore, id: &str, owner: &str) -> Result<bool, StoreError> {
    let deleted = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND owner = $2")
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
    store: &PostgresStore,
    event: WebhookEvent,
    user_id: &str,
) -> Result<Vec<Webhook>, StoreError> {
    let hooks = sqlx::query_as::<_, HookRow>(&format!(
        "SELECT {HOOK_COLUMNS} FROM webhooks AS w \
         WHERE w.owner = 'user:' || $1 \
            OR (left(w.owner, 4) = 'key:' AND EXISTS ( \
                SELECT 1 FROM api_keys AS k \
                WHERE k.id = substr(w.owner, 5) AND k.revoked_at IS NULL)) \
         ORDER BY w.created_at, w.id COLLATE \"C\""
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

/// `ON CONFLICT DO NOTHING` keeps the first delivery of an id; the `EXISTS` conditions
/// skip a hook deleted or a user forgotten since the subscribers were read. One deleted by
/// a transaction that commits while this statement runs fails the foreign key instead,
/// which is taken as skipped too.
async fn enqueue(store: &PostgresStore, delivery: &Delivery) -> Result<bool, StoreError> {
    let attempts = i32::try_from(delivery.attempts)
        .map_err(|_| StoreError::OutOfRange(format!("{} attempts", delivery.attempts)))?;
    let inserted = sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, user_id, event, payload, state, \
         attempts, last_status, last_error, next_attempt_at, created_at, delivered_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 \
         WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $2) \
           AND EXISTS (SELECT 1 FROM users WHERE id = $3) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&delivery.id)
    .bind(&delivery.webhook_id)
    .bind(&delivery.user_id)
    .bind(delivery.event.as_str())
    .bind(&delivery.payload)
    .bind(delivery.state.as_str())
    .bind(attempts)
    .bind(delivery.last_status.map(i32::from))
    .bind(&delivery.last_error)
    .bind(delivery.next_attempt_at)
    .bind(delivery.created_at)
    .bind(delivery.delivered_at)
    .execute(&store.pool)
    .await;
    match inserted {
        Ok(done) => Ok(done.rows_affected() == 1),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn claim(
    store: &PostgresStore,
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<Option<ClaimedDelivery>, StoreError> {
    loop {
        let Some(row) = sqlx::query_as::<_, ClaimedRow>(&format!(
            "WITH claimed AS ( \
               UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = $2 \
               WHERE id = (SELECT id FROM webhook_deliveries \
                           WHERE state = 'pending' AND next_attempt_at <= $1 \
                             AND (lease_until IS NULL OR lease_until <= $1) \
                           ORDER BY next_attempt_at, created_at, id COLLATE \"C\" LIMIT 1 \
                           FOR UPDATE SKIP LOCKED) \
               RETURNING {DELIVERY_COLUMNS}) \
             SELECT claimed.*, w.url, w.secret FROM claimed \
             LEFT JOIN webhooks AS w ON w.id = claimed.webhook_id"
        ))
        .bind(now)
        .bind(lease_until)
        .fetch_optional(&store.pool)
        .await?
        else {
            return Ok(None);
        };
        // The hook was deleted in between, and the delivery with it: take the next one.
        let (Some(url), Some(secret)) = (row.url, row.secret) else {
            continue;
        };
        return Ok(Some(ClaimedDelivery {
            delivery: Delivery::try_from(row.delivery)?,
            url,
            secret,
        }));
    }
}

/// Settling a delivery that is no longer pending (a worker whose lease ran out finishing
/// late, after another settled it) changes nothing.
async fn settle(
    store: &PostgresStore,
    id: &str,
    state: DeliveryState,
    status: Option<u16>,
    error: Option<&str>,
    delivered_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = $1, last_status = $2, last_error = $3, \
         delivered_at = $4, lease_until = NULL WHERE id = $5 AND state = 'pending'",
    )
    .bind(state.as_str())
    .bind(status.map(i32::from))
    .bind(error)
    .bind(delivered_at)
    .bind(id)
    .execute(&store.pool)
    .await?;
    Ok(())
}

async fn retry(
    store: &PostgresStore,
    id: &str,
    status: Option<u16>,
    error: &str,
    next_attempt_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET last_status = $1, last_error = $2, \
         next_attempt_at = $3, lease_until = NULL WHERE id = $4 AND state = 'pending'",
    )
    .bind(status.map(i32::from))
    .bind(error)
    .bind(next_attempt_at)
    .bind(id)
    .execute(&store.pool)
    .await?;
    Ok(())
}

async fn deliveries(
    store: &PostgresStore,
    webhook_id: &str,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    sqlx::query_as::<_, DeliveryRow>(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 \
         ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT $2"
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
impl WebhookStore for PostgresStore {
    /// Fails (as an internal fault) when the id is taken. The secret is stored plain.
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
