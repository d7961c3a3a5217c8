//! A JSON body extractor whose rejections carry the error registry's codes.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`, but a bad body is `validation_failed` (or `image_too_large` past
/// the body limit) in the JSON error shape.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(value)| JsonBody(value))
            .map_err(|e| ApiError::rejection(e.status(), e.body_text()))
    }
}
