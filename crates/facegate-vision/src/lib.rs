//! The face pipeline of facegate: decode, detect, align, embed and analyse faces with
//! ONNX Runtime on dedicated inference threads.

pub mod align;
pub mod attributes;
pub mod config;
pub mod crop;
pub mod decode;
pub mod detect;
pub mod embed;
pub mod engine;
pub mod error;
pub mod face_engine;
pub mod heif;
pub mod imgproc;
pub mod landmarks68;
pub mod liveness;
pub mod manifest;
pub mod pipeline;
pub mod quality;
pub mod runtime;
pub mod symmetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use config::{
    EmbeddingModel, GroupPhotos, ImageLimits, LandmarkSource, MainFace, Pack, VisionConfig,
};
pub use engine::Engine;
pub use error::VisionError;
pub use pipeline::{EmbeddedFace, MainFaceEmbedding, Pipeline};
