//! Errors as JSON bodies with stable codes.
//!
//! Handlers return [`ApiError`]; the [`render_errors`] middleware turns every error
//! response (ours, and axum's own rejections) into
//! `{"error": {"code", "type", "message", "request_id"}}`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use facegate_core::{ErrorCode, Failure};

/// A failed request.
#[derive(Debug)]
pub struct ApiError(pub Failure);

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        Self(f)
    }
}

impl ApiError {
    pub fn validation(message: impl Into<String>) -> Self {
        Self(Failure::validation(message))
    }

    /// An extractor's rejection (JSON, multipart): a body over the size limit is
    /// `image_too_large` (413), anything else the client sent wrong `validation_failed`
    /// (400), whatever status axum chose (415, 422).
    pub fn rejection(status: StatusCode, message: impl Into<String>) -> Self {
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorCode::ImageTooLarge
        } else {
            ErrorCode::ValidationFailed
        };
        Self(Failure::new(code, message))
    }
}

/// Maps a stable code to its HTTP status.
pub fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = status_of(self.0.code).into_response();
        response.extensions_mut().insert(self.0);
        response
    }
}

/// The code for an error response that carries no [`Failure`] (axum's rejections).
fn code_for_status(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::ImageTooLarge,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::Overloaded,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ModelUnavailable,
        s if s.is_client_error() => ErrorCode::ValidationFailed,
        _ => ErrorCode::Internal,
    }
}

/// Renders every 4xx/5xx response as the JSON error body, with the request id.
pub async fn render_errors(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let failure = if let Some(f) = parts.extensions.remove::<Failure>() {
        f
    } else {
        let bytes = axum::body::to_bytes(body, 64 * 1024)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        let message = if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            text
        };
        Failure::new(code_for_status(status), message)
    };
    let message = if failure.code == ErrorCode::Internal {
        tracing::error!(request_id, error = %failure.message, "request failed");
        "an internal error occurred; quote the request id when reporting it".to_owned()
    } else {
        failure.message
    };
    let body = serde_json::json!({
        "error": {
            "code": failure.code,
            "type": failure.code.error_type(),
            "message": message,
            "request_id": request_id,
        }
    });
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body is left unread: the connection cannot carry another
        // request, so clients must not reuse it.
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if matches!(
        failure.code,
        ErrorCode::Overloaded | ErrorCode::ModelUnavailable
    ) {
        parts
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Response::from_parts(parts, Body::from(body.to_string()))
}
