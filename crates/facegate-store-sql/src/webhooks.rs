//! [`WebhookStore`] on the `webhooks` and `webhook_deliveries` tables.
//!
//! Signing secrets are sealed by the store's [`Sealer`] like embeddings, so they are not
//! readable at rest when encryption is on (the PostgreSQL store runs without it). Claiming
//! is one `UPDATE`, atomic against every other connection and replica, like the job
//! queue's.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::model::Timestamp;
use facegate_core::ports::{Sealer, WebhookStore};
use facegate_core::webhooks::{ClaimedDelivery, Delivery, DeliveryState, Webhook, WebhookEvent};
use sqlx::types::Json;

use crate::db::on_db;
use crate::embedding::{open_with_key, seal_with_key};
use crate::error::{StoreError, from_i32, to_i32};
use crate::store::{SqlStore, Vectors};

const HOOK_COLUMNS: &str = "w.id, w.owner, w.url, w.events, w.created_at";

const DELIVERY_COLUMNS: &str = "id, webhook_id, user_id, event, payload, state, attempts, \
     last_status, last_error, next_attempt_at, created_at, delivered_at";

#[derive(sqlx::FromRow)]
struct HookRow {
    id: String,
    owner: String,
    url: String,
    events: Json<Vec<WebhookEvent>>,
    created_at: i64,
}

impl From<HookRow> for Webhook {
    fn from(row: HookRow) -> Self {
        Webhook {
            events: row.events.0,
            id: row.id,
            owner: row.owner,
            url: row.url,
            created_at: row.created_at,
        }
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
                .map(|s| from_i32(s, "delivery status"))
                .transpose()?,
            attempts: from_i32(row.attempts, "delivery attempts")?,
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

/// The secret stored with `key_id`, as UTF-8.
fn open_secret(
    sealer: &dyn Sealer,
    blob: Vec<u8>,
    key_id: Option<String>,
) -> Result<String, StoreError> {
    String::from_utf8(open_with_key(sealer, blob, key_id)?)
        .map_err(|_| StoreError::Corrupt("a webhook secret is not UTF-8".to_owned()))
}

async fn insert<V>(store: &SqlStore<V>, hook: &Webhook, secret: &str) -> Result<(), StoreError> {
    let (secret, key_id) = seal_with_key(&*store.sealer, secret.as_bytes().to_vec())?;
    on_db!(&store.pool, |pool| sqlx::query(
        "INSERT INTO webhooks (id, owner, url, events, secret, key_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&hook.id)
    .bind(&hook.owner)
    .bind(&hook.url)
    .bind(Json(&hook.events))
    .bind(&secret)
    .bind(&key_id)
    .bind(hook.created_at)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// The hooks `condition` selects (with `$1`), oldest first.
async fn hooks<V>(
    store: &SqlStore<V>,
    condition: &str,
    value: &str,
) -> Result<Vec<Webhook>, StoreError> {
    let sql = format!(
        "SELECT {HOOK_COLUMNS} FROM webhooks AS w WHERE {condition} \
         ORDER BY w.created_at, w.id{}",
        store.pool.dialect().byte_order
    );
    let rows: Vec<HookRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .bind(value)
        .fetch_all(pool)
        .await?);
    Ok(rows.into_iter().map(Webhook::from).collect())
}

async fn by_owner<V>(store: &SqlStore<V>, owner: &str) -> Result<Vec<Webhook>, StoreError> {
    hooks(store, "w.owner = $1", owner).await
}

async fn get<V>(store: &SqlStore<V>, id: &str) -> Result<Option<Webhook>, StoreError> {
    Ok(hooks(store, "w.id = $1", id).await?.pop())
}

async fn delete<V>(store: &SqlStore<V>, id: &str, owner: &str) -> Result<bool, StoreError> {
    let deleted = on_db!(&store.pool, |pool| sqlx::query(
        "DELETE FROM webhooks WHERE id = $1 AND owner = $2"
    )
    .bind(id)
    .bind(owner)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(deleted == 1)
}

/// The user's own hooks and those of unrevoked API keys; the event is checked here rather
/// than in SQL (a handful of hooks).
async fn subscribers<V>(
    store: &SqlStore<V>,
    event: WebhookEvent,
    user_id: &str,
) -> Result<Vec<Webhook>, StoreError> {
    let mut hooks = hooks(
        store,
        "w.owner = 'user:' || $1 \
         OR (substr(w.owner, 1, 4) = 'key:' AND EXISTS ( \
             SELECT 1 FROM api_keys AS k \
             WHERE k.id = substr(w.owner, 5) AND k.revoked_at IS NULL))",
        user_id,
    )
    .await?;
    hooks.retain(|hook| hook.events.contains(&event));
    Ok(hooks)
}

/// `ON CONFLICT DO NOTHING` keeps the first delivery of an id; the `EXISTS` conditions
/// skip a hook deleted or a user forgotten since the subscribers were read. One deleted by
/// a concurrent PostgreSQL transaction that commits while this statement runs fails the
/// foreign key instead, which is taken as skipped too.
async fn enqueue<V>(store: &SqlStore<V>, delivery: &Delivery) -> Result<bool, StoreError> {
    let attempts = to_i32(delivery.attempts, "attempts")?;
    let inserted = on_db!(&store.pool, |pool| sqlx::query(
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
    .execute(pool)
    .await
    .map(|done| done.rows_affected()));
    match inserted {
        Ok(inserted) => Ok(inserted == 1),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    url: String,
    secret: Vec<u8>,
    key_id: Option<String>,
}

/// The soonest due pending delivery, leased; its sub-select skips rows other replicas are
/// claiming, like the job queue's, and hooks that have a delivery in flight already, so
/// that a slow receiver holds up its own deliveries only.
async fn claim<V>(
    store: &SqlStore<V>,
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<Option<ClaimedDelivery>, StoreError> {
    let dialect = store.pool.dialect();
    let sql = format!(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = $2 \
         WHERE id = (SELECT d.id FROM webhook_deliveries AS d \
                     WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
                       AND (d.lease_until IS NULL OR d.lease_until <= $1) \
                       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries AS busy \
                                       WHERE busy.webhook_id = d.webhook_id \
                                         AND busy.state = 'pending' AND busy.lease_until > $1) \
                     ORDER BY d.next_attempt_at, d.created_at, d.id{} LIMIT 1{}) \
         RETURNING {DELIVERY_COLUMNS}",
        dialect.byte_order, dialect.skip_locked
    );
    loop {
        let row: Option<DeliveryRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
            .bind(now)
            .bind(lease_until)
            .fetch_optional(pool)
            .await?);
        let Some(row) = row else {
            return Ok(None);
        };
        let delivery = Delivery::try_from(row)?;
        let target: Option<TargetRow> = on_db!(&store.pool, |pool| sqlx::query_as(
            "SELECT url, secret, key_id FROM webhooks WHERE id = $1"
        )
        .bind(&delivery.webhook_id)
        .fetch_optional(pool)
        .await?);
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
async fn settle<V>(
    store: &SqlStore<V>,
    id: &str,
    state: DeliveryState,
    status: Option<u16>,
    error: Option<&str>,
    delivered_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "UPDATE webhook_deliveries SET state = $1, last_status = $2, last_error = $3, \
         delivered_at = $4, lease_until = NULL WHERE id = $5 AND state = 'pending'",
    )
    .bind(state.as_str())
    .bind(status.map(i32::from))
    .bind(error)
    .bind(delivered_at)
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

async fn retry<V>(
    store: &SqlStore<V>,
    id: &str,
    status: Option<u16>,
    error: &str,
    next_attempt_at: Timestamp,
) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "UPDATE webhook_deliveries SET last_status = $1, last_error = $2, \
         next_attempt_at = $3, lease_until = NULL WHERE id = $4 AND state = 'pending'",
    )
    .bind(status.map(i32::from))
    .bind(error)
    .bind(next_attempt_at)
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// Newest first.
async fn deliveries<V>(
    store: &SqlStore<V>,
    webhook_id: &str,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 \
         ORDER BY created_at DESC, id{} DESC LIMIT $2",
        store.pool.dialect().byte_order
    );
    let rows: Vec<DeliveryRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .bind(webhook_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?);
    rows.into_iter().map(Delivery::try_from).collect()
}

#[async_trait]
impl<V: Vectors> WebhookStore for SqlStore<V> {
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
