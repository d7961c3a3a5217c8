//! [`TransactionStore`] on the `transactions` table.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::account::Transaction;
use facegate_core::model::Timestamp;
use facegate_core::ports::TransactionStore;

use crate::db::on_db;
use crate::error::StoreError;
use crate::store::{SqlStore, Vectors};

#[derive(sqlx::FromRow)]
struct TransactionRow {
    id: String,
    user_id: String,
    amount_cents: i64,
    currency: String,
    description: String,
    step_up: bool,
    created_at: i64,
}

impl From<TransactionRow> for Transaction {
    fn from(row: TransactionRow) -> Self {
        Transaction {
            id: row.id,
            user_id: row.user_id,
            amount_cents: row.amount_cents,
            currency: row.currency,
            description: row.description,
            step_up: row.step_up,
            created_at: row.created_at,
        }
    }
}

/// The transaction's user must exist.
async fn insert<V>(store: &SqlStore<V>, transaction: &Transaction) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "INSERT INTO transactions (id, user_id, amount_cents, currency, description, step_up, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&transaction.id)
    .bind(&transaction.user_id)
    .bind(transaction.amount_cents)
    .bind(&transaction.currency)
    .bind(&transaction.description)
    .bind(transaction.step_up)
    .bind(transaction.created_at)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

async fn in_range<V>(
    store: &SqlStore<V>,
    user_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Transaction>, StoreError> {
    let sql = format!(
        "SELECT id, user_id, amount_cents, currency, description, step_up, created_at \
         FROM transactions WHERE user_id = $1 AND created_at >= $2 AND created_at < $3 \
         ORDER BY created_at, id{}",
        store.pool.dialect().byte_order
    );
    let rows: Vec<TransactionRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .bind(user_id)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?);
    Ok(rows.into_iter().map(Transaction::from).collect())
}

#[async_trait]
impl<V: Vectors> TransactionStore for SqlStore<V> {
    async fn insert_transaction(&self, transaction: &Transaction) -> Result<()> {
        Ok(insert(self, transaction).await?)
    }

    async fn transactions(
        &self,
        user_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Transaction>> {
        Ok(in_range(self, user_id, from, to).await?)
    }
}
