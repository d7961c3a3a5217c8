//! Behaviour every store adapter must show, run by each adapter's own tests against a real
//! instance of its backend (`features = ["testing"]`).
//!
//! One `pub async fn` per behaviour, given a fresh, empty store (the caller opens it, so
//! each backend decides how: a new folder, a new database). A failed expectation panics.
//! [`fixtures`] builds the records, for the adapters' own tests too.

pub mod accounts;
pub mod collections;
pub mod fixtures;
pub mod jobs;
pub mod metrics;
pub mod references;
pub mod scans;
pub mod users;
pub mod webhooks;
