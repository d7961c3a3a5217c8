//! Errors of the face pipeline.

use facegate_core::ErrorCode;

/// What can go wrong between an uploaded file and a face embedding.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error("the image is empty")]
    EmptyImage,
    #[error("the image is {size} bytes; the limit is {limit} bytes")]
    TooManyBytes { size: usize, limit: usize },
    #[error("the image is {width}x{height} pixels; each side may be at most {limit}")]
    TooManyPixels { width: u32, height: u32, limit: u32 },
    #[error(
        "the image is {width}x{height} pixels ({:.1} MP); at most {:.1} MP are accepted",
        f64::from(*width) * f64::from(*height) / 1e6,
        *limit as f64 / 1e6
    )]
    TooManyPixelsInAll { width: u32, height: u32, limit: u64 },
    #[error("the image is {width}x{height} pixels; each side must be at least {limit}")]
    TooFewPixels { width: u32, height: u32, limit: u32 },
    #[error("unsupported image format{}; send JPEG, PNG, WebP, HEIC or AVIF", detected.map(|f| format!(" ({f})")).unwrap_or_default())]
    UnsupportedFormat { detected: Option<&'static str> },
    #[error("the image could not be decoded: {0}")]
    Undecodable(String),
    #[error("no face was found in the image")]
    NoFace,
    #[error("{count} faces were found; exactly one is required")]
    MultipleFaces { count: usize },
    #[error(
        "the face is too close to the image's edges (the frame holds {context:.1}x its box, \
         at least {min_context}x is needed) or too small ({face:.0} px, at least {min_face} \
         px) for a liveness check; send the camera's whole frame with the face \
         in the middle",
        min_context = crate::liveness::MIN_CONTEXT,
        min_face = crate::liveness::MIN_FACE
    )]
    InsufficientContext { context: f64, face: f32 },
    #[error("the inference queue is full; retry later")]
    Overloaded,
    #[error(
        "model file {file}: {reason}. Run `scripts/setup.sh` (or `make setup`) to install the models"
    )]
    ModelMissing { file: String, reason: String },
    #[error(
        "ONNX Runtime could not be loaded from {path}: {reason}. Run `scripts/setup.sh` to install it"
    )]
    RuntimeUnavailable { path: String, reason: String },
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("the inference engine has stopped")]
    EngineStopped,
}

impl VisionError {
    /// The client-facing code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            VisionError::EmptyImage | VisionError::Undecodable(_) => ErrorCode::InvalidImage,
            VisionError::TooManyBytes { .. }
            | VisionError::TooManyPixels { .. }
            | VisionError::TooManyPixelsInAll { .. } => ErrorCode::ImageTooLarge,
            VisionError::TooFewPixels { .. } => ErrorCode::ImageTooSmall,
            VisionError::UnsupportedFormat { .. } => ErrorCode::UnsupportedFormat,
            VisionError::NoFace => ErrorCode::FaceNotFound,
            VisionError::MultipleFaces { .. } => ErrorCode::MultipleFaces,
            VisionError::InsufficientContext { .. } => ErrorCode::InsufficientContext,
            VisionError::Overloaded => ErrorCode::Overloaded,
            VisionError::ModelMissing { .. }
            | VisionError::RuntimeUnavailable { .. }
            | VisionError::EngineStopped => ErrorCode::ModelUnavailable,
            VisionError::Inference(_) => ErrorCode::Internal,
        }
    }
}

impl From<ort::Error> for VisionError {
    fn from(e: ort::Error) -> Self {
        VisionError::Inference(e.to_string())
    }
}
