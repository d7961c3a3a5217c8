//! Route handlers: parse the request into domain values, call a use-case, map the outcome.

pub mod accounts;
pub mod admin;
pub mod collections;
pub mod docs;
pub mod facepass;
pub mod faces;
pub mod health;
pub mod liveness_sessions;
pub mod metrics;
pub mod references;
pub mod scans;
pub mod transactions;
pub mod webhooks;

use facegate_core::liveness_sessions::Selfie;

use crate::error::ApiError;
use crate::upload::Upload;

/// The field naming a live liveness session that stands in for a selfie.
const LIVENESS_SESSION_FIELD: &str = "liveness_session_id";

/// A selfie: a live session named in `liveness_session_id`, else the first image sent
/// under any of `names`.
fn take_selfie(upload: &mut Upload, names: &[&str]) -> Option<Selfie> {
    match upload.opt_text(LIVENESS_SESSION_FIELD) {
        Some(id) => Some(Selfie::Session(id.to_owned())),
        None => take_first(upload, names).map(Selfie::Image),
    }
}

fn take_first(upload: &mut Upload, names: &[&str]) -> Option<Vec<u8>> {
    names.iter().find_map(|n| upload.take_image(n))
}

/// The first image sent under any of `names`.
fn first_image(upload: &mut Upload, names: &[&str]) -> Result<Vec<u8>, ApiError> {
    take_first(upload, names).ok_or_else(|| {
        ApiError::validation(format!(
            "an image is required in the field `{}`",
            names.join("` or `")
        ))
    })
}
