//! Tests of the embedded store against real SQLite files, one folder per test.

mod api_keys;
mod audit;
mod collections;
mod encryption;
mod gauges;
mod inventory;
mod jobs;
mod lifecycle;
mod references;
mod refresh_tokens;
mod support;
mod transactions;
mod users;
mod webhooks;
