//! Route handlers: parse the request into domain values, call a use-case, map the outcome.

pub mod accounts;
pub mod admin;
pub mod collections;
pub mod docs;
pub mod faces;
pub mod health;
pub mod liveness_sessions;
pub mod metrics;
pub mod references;
pub mod scans;
pub mod transactions;
pub mod webhooks;

use crate::error::ApiError;
use crate::upload::Upload;

/// The first image sent under any of `names`.
fn first_image(upload: &mut Upload, names: &[&str]) -> Result<Vec<u8>, ApiError> {
    names
        .iter()
        .find_map(|n| upload.take_image(n))
        .ok_or_else(|| {
            ApiError::validation(format!(
                "an image is required in the field `{}`",
                names.join("` or `")
            ))
        })
}
