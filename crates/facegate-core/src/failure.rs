//! The error every use-case returns: a stable code and a message for the client.

use crate::error::ErrorCode;

/// A failed use-case. Adapters translate their own errors into this at the port boundary,
/// choosing the code; transports map the code to their status (HTTP, Kafka result).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub code: ErrorCode,
    pub message: String,
}

impl Failure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message)
    }

    /// A face whose passive liveness `score` is below `threshold`.
    pub fn spoof_suspected(score: f32, threshold: f32) -> Self {
        Self::new(
            ErrorCode::SpoofSuspected,
            format!(
                "the face failed the liveness check (score {score:.3}, at least {threshold} \
                 needed): take the photo of a live person, not of a photo or a screen"
            ),
        )
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} was not found"))
    }

    /// An internal fault; the message is for logs, clients see a generic text.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;
