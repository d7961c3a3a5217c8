//! Ports wrapped with a [`Cache`](crate::ports::Cache): what they compute or read is kept
//! for a while, so an image seen before skips inference and a session's status skips the
//! store.
//!
//! A cache is only an optimisation: every miss, unreadable entry or unreachable backend
//! falls through to the wrapped port, and errors are never cached.

mod collections;
mod engine;

pub use collections::CachedCollections;
pub use engine::CachedEngine;
