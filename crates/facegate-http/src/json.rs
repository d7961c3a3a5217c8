//! A JSON body extractor whose rejections carry the error registry's codes.

use axum::body::HttpBody as _;
use axum::extract::{FromRequest, Request};
use facegate_core::{ErrorCode, Failure};
use serde::de::DeserializeOwned;

use crate::bounds::JsonLimit;
use crate::error::ApiError;

/// What [`JsonBody`] reads where no [`JsonLimit`] is set (a router built without
/// [`crate::bounds::bound_bodies`]).
const DEFAULT_LIMIT: usize = 256 * 1024;

/// Like `axum::Json`, but the body is read up to the JSON limit (`body_too_large` past
/// it) and a bad body is `validation_failed`, in the JSON error shape.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonLimit(limit) = req
            .extensions()
            .get::<JsonLimit>()
            .copied()
            .unwrap_or(JsonLimit(DEFAULT_LIMIT));
        let too_large = || {
            ApiError(Failure::new(
                ErrorCode::BodyTooLarge,
                format!("the JSON body is over its limit of {limit} bytes"),
            ))
        };
        if req
            .body()
            .size_hint()
            .upper()
            .is_some_and(|n| n > limit as u64)
        {
            return Err(too_large());
        }
        let (parts, body) = req.into_parts();
        let body = axum::body::Body::new(http_body_util::Limited::new(body, limit));
        axum::Json::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map(|axum::Json(value)| JsonBody(value))
            .map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    ApiError::rejection(e.status(), e.body_text())
                }
            })
    }
}
