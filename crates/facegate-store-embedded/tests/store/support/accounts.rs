//! Builders of account records: users, faces, tokens, keys, jobs, transactions, audit
//! (the conformance checks' own, shared by both stores' tests).

pub use facegate_core::conformance::fixtures::*;
