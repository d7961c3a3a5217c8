//! The domain core of facegate: face types, records, ports, use-cases and the error-code
//! registry.
//!
//! This crate does no I/O; adapters (vision, stores, HTTP) depend on it, never the reverse.

pub mod error;
pub mod face;
pub mod failure;
pub mod model;
pub mod ports;
pub mod service;
pub mod similarity;

pub use error::{ErrorCode, ErrorType};
pub use face::{BoundingBox, Embedding, FaceDetection, Landmarks5, ModelId, Point};
pub use failure::{Failure, Result};
pub use service::{FaceService, Policy, Ports, Probe};
pub use similarity::{Decision, SimilarityError, Threshold};
