//! Face-gated transactions and their report.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use facegate_core::account::Transaction;
use facegate_core::transactions::{NewTransaction, TransactionReport};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::Caller;
use crate::error::ApiError;
use crate::json::JsonBody;
use crate::state::AppState;
use crate::upload::Upload;

/// Thirty days, the report's default range.
const DEFAULT_REPORT_MS: i64 = 30 * 24 * 3600 * 1000;

/// A transaction.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "documents the request body in the OpenAPI document"
)]
pub struct TransactionForm {
    /// Decimal, at most two decimals (a JSON number or string).
    amount: String,
    /// ISO 4217 code.
    currency: String,
    description: Option<String>,
    /// A fresh selfie (base64 in JSON), needed above the step-up amount.
    #[schema(format = Binary)]
    selfie: Option<String>,
    /// A live liveness session of the caller, standing in for `selfie` (spent once).
    liveness_session_id: Option<String>,
}

/// A time range: RFC 3339 strings or milliseconds since the epoch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportForm {
    /// Start (inclusive); default 30 days before `to`.
    #[schema(value_type = Option<String>)]
    pub from: Option<serde_json::Value>,
    /// End (exclusive); default now.
    #[schema(value_type = Option<String>)]
    pub to: Option<serde_json::Value>,
}

fn timestamp(name: &str, value: &serde_json::Value) -> Result<i64, ApiError> {
    let invalid = || {
        ApiError::validation(format!(
            "`{name}` must be an RFC 3339 time or milliseconds since the epoch"
        ))
    };
    match value {
        serde_json::Value::Number(n) => n.as_i64().ok_or_else(invalid),
        serde_json::Value::String(s) => facegate_core::time::parse(s).ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

/// Record a transaction of the caller. Only face-verified users; above the step-up
/// amount a fresh selfie must match their face.
#[utoipa::path(post, path = "/api/v1/transactions", tag = "transactions",
    request_body(content = TransactionForm, content_type = "application/json"),
    responses((status = 201, description = "Recorded"),
        (status = 403, description = "Not verified, step-up selfie missing or not matching")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    mut upload: Upload,
) -> Result<(StatusCode, Json<Transaction>), ApiError> {
    let user_id = caller.user_id()?.to_owned();
    let request = NewTransaction {
        amount: upload.text("amount")?.to_owned(),
        currency: upload.text("currency")?.to_owned(),
        description: upload
            .opt_text("description")
            .unwrap_or_default()
            .to_owned(),
        selfie: super::take_selfie(&mut upload, &["selfie"]),
    };
    let transaction = state.transactions.create(&user_id, request).await?;
    Ok((StatusCode::CREATED, Json(transaction)))
}

/// The caller's transactions in a time range, with totals per currency.
#[utoipa::path(post, path = "/api/v1/transactions/report", tag = "transactions", request_body = ReportForm,
    responses((status = 200, description = "Totals and transactions, oldest first")))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(form): JsonBody<ReportForm>,
) -> Result<Json<TransactionReport>, ApiError> {
    let user_id = caller.user_id()?;
    let to = match &form.to {
        Some(v) => timestamp("to", v)?,
        None => chrono::Utc::now().timestamp_millis() + 1,
    };
    let from = match &form.from {
        Some(v) => timestamp("from", v)?,
        None => to - DEFAULT_REPORT_MS,
    };
    Ok(Json(state.transactions.report(user_id, from, to).await?))
}
