//! The facegate binary's library: configuration, wiring and the CLI roles, shared with
//! the integration tests.

pub mod app;
pub mod carried_env;
pub mod cli;
pub mod deliveries;
pub mod evaluation;
pub mod jobs;
pub mod requests;
pub mod secrets;
pub mod settings;
pub mod store;
pub mod telemetry;
