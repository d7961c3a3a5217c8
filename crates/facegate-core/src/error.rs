//! The one registry of stable error codes that clients see.
//!
//! Every error that reaches a client maps to exactly one [`ErrorCode`]; each code has a
//! type and an HTTP status. Codes are part of the public contract: never rename one.

use serde::Serialize;

/// Broad class of an error, shown to clients beside the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// The request is wrong; retrying it unchanged fails again.
    InvalidRequest,
    /// Missing or insufficient credentials.
    Auth,
    /// A fault on our side; the cause is logged, not shown.
    Internal,
    /// The service is not able to serve right now (overload, not ready); retry later.
    System,
}

/// Stable machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request body or a parameter does not satisfy the API's rules.
    ValidationFailed,
    /// The upload is empty or could not be decoded as an image.
    InvalidImage,
    /// The upload is in a format facegate does not decode.
    UnsupportedFormat,
    /// The upload exceeds the byte or dimension limits.
    ImageTooLarge,
    /// A request body without images (JSON) exceeds its limit.
    BodyTooLarge,
    /// The request body did not arrive within its deadline.
    RequestTimeout,
    /// The image is smaller than the minimum side length.
    ImageTooSmall,
    /// No face was found where one is required.
    FaceNotFound,
    /// Several faces were found where exactly one is required.
    MultipleFaces,
    /// The face is too small, blurred or turned to be used.
    LowQuality,
    /// Two embeddings from different models cannot be compared.
    EmbeddingModelMismatch,
    /// The face looks like a presentation attack (photo of a photo, screen, mask).
    SpoofSuspected,
    /// The image shows too little around the face (or too small a face) for a liveness
    /// check: send the camera's whole frame.
    InsufficientContext,
    /// The requested resource does not exist.
    NotFound,
    /// No credentials were sent where the endpoint needs them.
    Unauthorized,
    /// The username and password do not match an account (the same for unknown users).
    InvalidCredentials,
    /// A bearer or refresh token is malformed, forged, revoked or of the wrong kind.
    InvalidToken,
    /// The access token has expired: refresh it.
    TokenExpired,
    /// The API key is unknown or revoked.
    InvalidApiKey,
    /// The credentials are valid but lack the role or scope the endpoint needs.
    Forbidden,
    /// The operation needs a face-verified account.
    NotVerified,
    /// The operation needs a fresh selfie (step-up) that was not sent.
    StepUpRequired,
    /// The selfie does not match the account's verified face.
    FaceMismatch,
    /// A new reference's face matches another subject: a mislabelled or duplicate photo.
    DuplicateIdentity,
    /// A new reference's face matches none of its subject's references.
    ReferenceMismatch,
    /// The resource already exists (for example a username that is taken), or a
    /// single-use resource was used already.
    Conflict,
    /// A liveness session's time ran out: start a new one.
    SessionExpired,
    /// The caller sent too many requests in the rate-limit window; retry later.
    RateLimited,
    /// Too many requests are being processed; retry later.
    Overloaded,
    /// A model or the inference runtime is not available.
    ModelUnavailable,
    /// An unexpected internal fault.
    Internal,
}

impl ErrorCode {
    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [ErrorCode; 31] = [
        ErrorCode::ValidationFailed,
        ErrorCode::InvalidImage,
        ErrorCode::UnsupportedFormat,
        ErrorCode::ImageTooLarge,
        ErrorCode::BodyTooLarge,
        ErrorCode::RequestTimeout,
        ErrorCode::ImageTooSmall,
        ErrorCode::FaceNotFound,
        ErrorCode::MultipleFaces,
        ErrorCode::LowQuality,
        ErrorCode::EmbeddingModelMismatch,
        ErrorCode::SpoofSuspected,
        ErrorCode::InsufficientContext,
        ErrorCode::NotFound,
        ErrorCode::Unauthorized,
        ErrorCode::InvalidCredentials,
        ErrorCode::InvalidToken,
        ErrorCode::TokenExpired,
        ErrorCode::InvalidApiKey,
        ErrorCode::Forbidden,
        ErrorCode::NotVerified,
        ErrorCode::StepUpRequired,
        ErrorCode::FaceMismatch,
        ErrorCode::DuplicateIdentity,
        ErrorCode::ReferenceMismatch,
        ErrorCode::Conflict,
        ErrorCode::SessionExpired,
        ErrorCode::RateLimited,
        ErrorCode::Overloaded,
        ErrorCode::ModelUnavailable,
        ErrorCode::Internal,
    ];

    /// The code as clients see it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::InvalidImage => "invalid_image",
            ErrorCode::UnsupportedFormat => "unsupported_format",
            ErrorCode::ImageTooLarge => "image_too_large",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::ImageTooSmall => "image_too_small",
            ErrorCode::FaceNotFound => "face_not_found",
            ErrorCode::MultipleFaces => "multiple_faces",
            ErrorCode::LowQuality => "low_quality",
            ErrorCode::EmbeddingModelMismatch => "embedding_model_mismatch",
            ErrorCode::SpoofSuspected => "spoof_suspected",
            ErrorCode::InsufficientContext => "insufficient_context",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::InvalidApiKey => "invalid_api_key",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotVerified => "not_verified",
            ErrorCode::StepUpRequired => "step_up_required",
            ErrorCode::FaceMismatch => "face_mismatch",
            ErrorCode::DuplicateIdentity => "duplicate_identity",
            ErrorCode::ReferenceMismatch => "reference_mismatch",
            ErrorCode::Conflict => "conflict",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::ModelUnavailable => "model_unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The class of the error.
    pub fn error_type(self) -> ErrorType {
        match self {
            ErrorCode::ValidationFailed
            | ErrorCode::InvalidImage
            | ErrorCode::UnsupportedFormat
            | ErrorCode::ImageTooLarge
            | ErrorCode::BodyTooLarge
            | ErrorCode::RequestTimeout
            | ErrorCode::ImageTooSmall
            | ErrorCode::FaceNotFound
            | ErrorCode::MultipleFaces
            | ErrorCode::LowQuality
            | ErrorCode::EmbeddingModelMismatch
            | ErrorCode::SpoofSuspected
            | ErrorCode::InsufficientContext
            | ErrorCode::NotFound
            | ErrorCode::DuplicateIdentity
            | ErrorCode::ReferenceMismatch
            | ErrorCode::Conflict
            | ErrorCode::SessionExpired
            | ErrorCode::RateLimited => ErrorType::InvalidRequest,
            ErrorCode::Unauthorized
            | ErrorCode::InvalidCredentials
            | ErrorCode::InvalidToken
            | ErrorCode::TokenExpired
            | ErrorCode::InvalidApiKey
            | ErrorCode::Forbidden
            | ErrorCode::NotVerified
            | ErrorCode::StepUpRequired
            | ErrorCode::FaceMismatch => ErrorType::Auth,
            ErrorCode::Overloaded | ErrorCode::ModelUnavailable => ErrorType::System,
            ErrorCode::Internal => ErrorType::Internal,
        }
    }

    /// The HTTP status that carries this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::ValidationFailed => 400,
            ErrorCode::InvalidImage
            | ErrorCode::FaceNotFound
            | ErrorCode::MultipleFaces
            | ErrorCode::LowQuality
            | ErrorCode::ImageTooSmall
            | ErrorCode::EmbeddingModelMismatch
            | ErrorCode::SpoofSuspected
            | ErrorCode::InsufficientContext
            | ErrorCode::ReferenceMismatch => 422,
            ErrorCode::UnsupportedFormat => 415,
            ErrorCode::ImageTooLarge | ErrorCode::BodyTooLarge => 413,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::NotFound => 404,
            ErrorCode::Unauthorized
            | ErrorCode::InvalidCredentials
            | ErrorCode::InvalidToken
            | ErrorCode::TokenExpired
            | ErrorCode::InvalidApiKey => 401,
            ErrorCode::Forbidden
            | ErrorCode::NotVerified
            | ErrorCode::StepUpRequired
            | ErrorCode::FaceMismatch => 403,
            ErrorCode::Conflict | ErrorCode::DuplicateIdentity => 409,
            ErrorCode::SessionExpired => 410,
            ErrorCode::RateLimited | ErrorCode::Overloaded => 429,
            ErrorCode::ModelUnavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_client_errors_are_4xx() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            let status = code.http_status();
            match code.error_type() {
                ErrorType::InvalidRequest | ErrorType::Auth => {
                    assert!((400..500).contains(&status), "{code} -> {status}");
                }
                ErrorType::System => assert!(status == 429 || status == 503, "{code}"),
                ErrorType::Internal => assert_eq!(status, 500),
            }
        }
    }
}
