//! The facegate binary's library: configuration, wiring and the CLI roles, shared with
//! the integration tests.

pub mod cli;
pub mod evaluation;
pub mod settings;
pub mod telemetry;
