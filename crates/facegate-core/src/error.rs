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
    /// The requested resource does not exist.
    NotFound,
    /// Too many requests are being processed; retry later.
    Overloaded,
    /// A model or the inference runtime is not available.
    ModelUnavailable,
    /// An unexpected internal fault.
    Internal,
}

impl ErrorCode {
    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::ValidationFailed,
        ErrorCode::InvalidImage,
        ErrorCode::UnsupportedFormat,
        ErrorCode::ImageTooLarge,
        ErrorCode::ImageTooSmall,
        ErrorCode::FaceNotFound,
        ErrorCode::MultipleFaces,
        ErrorCode::LowQuality,
        ErrorCode::EmbeddingModelMismatch,
        ErrorCode::NotFound,
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
            ErrorCode::ImageTooSmall => "image_too_small",
            ErrorCode::FaceNotFound => "face_not_found",
            ErrorCode::MultipleFaces => "multiple_faces",
            ErrorCode::LowQuality => "low_quality",
            ErrorCode::EmbeddingModelMismatch => "embedding_model_mismatch",
            ErrorCode::NotFound => "not_found",
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
            | ErrorCode::ImageTooSmall
            | ErrorCode::FaceNotFound
            | ErrorCode::MultipleFaces
            | ErrorCode::LowQuality
            | ErrorCode::EmbeddingModelMismatch
            | ErrorCode::NotFound => ErrorType::InvalidRequest,
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
            | ErrorCode::EmbeddingModelMismatch => 422,
            ErrorCode::UnsupportedFormat => 415,
            ErrorCode::ImageTooLarge => 413,
            ErrorCode::NotFound => 404,
            ErrorCode::Overloaded => 429,
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
