//! The domain core of facegate: face types, records, ports, use-cases and the error-code
//! registry.
//!
//! This crate does no I/O; adapters (vision, stores, HTTP) depend on it, never the reverse.

/// `Debug` for structs of adapters (trait objects): the type's name only.
macro_rules! debug_ports {
    ($($t:ty),+) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        }
    )+};
}

pub mod account;
pub mod accounts;
pub mod cached;
pub mod challenge;
#[cfg(feature = "testing")]
pub mod conformance;
pub mod enrollment_checks;
pub mod error;
pub mod face;
pub mod failure;
pub mod jobs;
pub mod liveness_sessions;
pub mod model;
pub mod ports;
pub mod reembed;
pub mod scans;
pub mod service;
pub mod similarity;
pub mod time;
pub mod transactions;
pub mod uploads;
pub mod verification;
pub mod webhooks;

pub use error::{ErrorCode, ErrorType};
pub use face::{BoundingBox, Embedding, FaceDetection, Landmarks5, ModelId, Point};
pub use failure::{Failure, Result};
pub use service::{FaceService, Policy, Ports, Probe};
pub use similarity::{Decision, SimilarityError, Threshold};
