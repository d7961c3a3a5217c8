//! Face-gated transactions: only verified users; above an amount, a fresh selfie must match
//! the user's face (step-up).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::account::Transaction;
use crate::error::ErrorCode;
use crate::failure::{Failure, Result};
use crate::liveness_sessions::{LivenessSessionService, Selfie};
use crate::model::Timestamp;
use crate::ports::{Clock, FaceEngine, TransactionStore, UserStore};
use crate::similarity;

/// When a transaction needs a step-up selfie, and how close it must be.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TransactionPolicy {
    /// Amounts above this (in cents) need a selfie that matches the user's face.
    pub step_up_above_cents: i64,
    /// Cosine threshold of the step-up comparison.
    pub threshold: f32,
    /// The step-up selfie's passive liveness score must reach this.
    pub liveness_threshold: f32,
}

/// The adapters transactions work through.
#[derive(Clone)]
pub struct TransactionPorts {
    pub engine: Arc<dyn FaceEngine>,
    pub users: Arc<dyn UserStore>,
    pub transactions: Arc<dyn TransactionStore>,
    pub clock: Arc<dyn Clock>,
    /// Live sessions standing in for step-up selfies.
    pub sessions: LivenessSessionService,
}

debug_ports!(TransactionPorts);

/// A transaction as asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTransaction {
    /// A decimal amount with at most two decimals, e.g. `"12.50"`.
    pub amount: String,
    pub currency: String,
    pub description: String,
    /// A fresh selfie, or a live session standing in for one, needed above the step-up
    /// amount.
    pub selfie: Option<Selfie>,
}

/// The sum of a report's transactions in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrencyTotal {
    pub currency: String,
    pub count: usize,
    pub amount_cents: i64,
}

/// A user's transactions in a time range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransactionReport {
    #[serde(with = "crate::time::serde_rfc3339")]
    pub from: Timestamp,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub to: Timestamp,
    pub count: usize,
    pub totals: Vec<CurrencyTotal>,
    pub transactions: Vec<Transaction>,
}

/// Creates and reports transactions.
#[derive(Clone)]
pub struct TransactionService {
    ports: TransactionPorts,
    policy: TransactionPolicy,
}

impl std::fmt::Debug for TransactionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Largest amount accepted, in cents (one trillion units).
const MAX_AMOUNT_CENTS: i64 = 100_000_000_000_000;

/// Parses a positive decimal amount with at most two decimals into cents.
pub fn parse_amount(amount: &str) -> Result<i64> {
    let invalid = || {
        Failure::validation(format!(
            "amount `{amount}` must be a positive number with at most two decimals"
        ))
    };
    let amount = amount.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (units, fraction) = match amount.split_once('.') {
        Some((units, fraction)) if digits(fraction) => (units, fraction),
        Some(_) => return Err(invalid()),
        None => (amount, ""),
    };
    if !digits(units) || fraction.len() > 2 {
        return Err(invalid());
    }
    let units: i64 = units.parse().map_err(|_| invalid())?;
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
    let cents = units
        .checked_mul(100)
        .and_then(|c| c.checked_add(fraction))
        .filter(|c| (1..=MAX_AMOUNT_CENTS).contains(c))
        .ok_or_else(invalid)?;
    Ok(cents)
}

fn parse_currency(currency: &str) -> Result<String> {
    let currency = currency.trim().to_ascii_uppercase();
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(currency)
    } else {
        Err(Failure::validation(
            "currency must be a three-letter ISO 4217 code",
        ))
    }
}

impl TransactionService {
    pub fn new(ports: TransactionPorts, policy: TransactionPolicy) -> Self {
        Self { ports, policy }
    }

    /// Records a transaction of a verified user, checking a step-up selfie above the
    /// configured amount.
    pub async fn create(&self, user_id: &str, request: NewTransaction) -> Result<Transaction> {
        let amount_cents = parse_amount(&request.amount)?;
        let currency = parse_currency(&request.currency)?;
        if request.description.chars().count() > 500 {
            return Err(Failure::validation(
                "description must be at most 500 characters",
            ));
        }
        let user = self
            .ports
            .users
            .user(user_id)
            .await?
            .ok_or_else(|| Failure::not_found(format!("user {user_id}")))?;
        if !user.verified {
            return Err(Failure::new(
                ErrorCode::NotVerified,
                "transactions need a face-verified account: POST /api/v1/auth/verify first",
            ));
        }
        let step_up = amount_cents > self.policy.step_up_above_cents;
        if step_up {
            let selfie = request.selfie.ok_or_else(|| {
                Failure::new(
                    ErrorCode::StepUpRequired,
                    format!(
                        "amounts above {}.{:02} need a fresh selfie in the field `selfie`, \
                         or a live session in `liveness_session_id`",
                        self.policy.step_up_above_cents / 100,
                        self.policy.step_up_above_cents % 100
                    ),
                )
            })?;
            let stored = self
                .ports
                .users
                .user_face(user_id)
                .await?
                .ok_or_else(|| Failure::internal("a verified user has no stored face"))?;
            let selfie = self.ports.sessions.selfie(user_id, selfie).await?;
            let (_, liveness) = self.ports.engine.liveness(selfie.clone()).await?;
            if liveness < self.policy.liveness_threshold {
                return Err(Failure::spoof_suspected(
                    liveness,
                    self.policy.liveness_threshold,
                ));
            }
            let (probe, _) = self.ports.engine.embed_main(selfie).await?;
            let s = similarity::compare(&stored.embedding, &probe.embedding)?;
            if s < self.policy.threshold {
                return Err(Failure::new(
                    ErrorCode::FaceMismatch,
                    "the selfie does not match the account's face",
                ));
            }
        }
        let transaction = Transaction {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user.id,
            amount_cents,
            currency,
            description: request.description,
            step_up,
            created_at: self.ports.clock.now(),
        };
        self.ports
            .transactions
            .insert_transaction(&transaction)
            .await?;
        Ok(transaction)
    }

    /// The user's transactions in `from..to` with totals per currency.
    pub async fn report(
        &self,
        user_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<TransactionReport> {
        if from >= to {
            return Err(Failure::validation("`from` must be before `to`"));
        }
        let transactions = self
            .ports
            .transactions
            .transactions(user_id, from, to)
            .await?;
        let mut totals: BTreeMap<&str, (usize, i64)> = BTreeMap::new();
        for t in &transactions {
            let entry = totals.entry(&t.currency).or_default();
            entry.0 += 1;
            entry.1 += t.amount_cents;
        }
        let totals = totals
            .into_iter()
            .map(|(currency, (count, amount_cents))| CurrencyTotal {
                currency: currency.to_owned(),
                count,
                amount_cents,
            })
            .collect();
        Ok(TransactionReport {
            from,
            to,
            count: transactions.len(),
            totals,
            transactions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_parsed_to_cents() {
        assert_eq!(parse_amount("12.5").unwrap(), 1250);
        assert_eq!(parse_amount("12.05").unwrap(), 1205);
        assert_eq!(parse_amount("7").unwrap(), 700);
        assert_eq!(parse_amount(" 0.01 ").unwrap(), 1);
        for bad in [
            "",
            "0",
            "0.00",
            "-1",
            "1.234",
            "1e3",
            "abc",
            ".5",
            "1.",
            "99999999999999999",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn currencies_are_iso_codes() {
        assert_eq!(parse_currency("eur").unwrap(), "EUR");
        assert!(parse_currency("EURO").is_err());
        assert!(parse_currency("E1R").is_err());
    }
}
