//! `facegate embed IMG`.

use std::path::PathBuf;

use facegate_vision::pipeline::EmbeddedFace;
use facegate_vision::{MainFaceEmbedding, Pipeline};
use serde::Serialize;

use crate::cli::{embed_main_file, print_json};
use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image file (JPEG, PNG, WebP, HEIC or AVIF).
    pub image: PathBuf,
}

#[derive(Debug, Serialize)]
struct Output {
    model: String,
    dim: usize,
    face_count: usize,
    quality: f32,
    face: facegate_core::FaceDetection,
    embedding: Vec<f32>,
}

pub fn run(settings: &Settings, args: &Args) -> anyhow::Result<()> {
    let mut pipeline = Pipeline::open(&settings.vision)?;
    let MainFaceEmbedding {
        main: EmbeddedFace {
            face,
            embedding,
            quality,
        },
        face_count,
    } = embed_main_file(&mut pipeline, &args.image)?;
    print_json(&Output {
        model: embedding.model().to_string(),
        dim: embedding.dim(),
        face_count,
        quality,
        face,
        embedding: embedding.vector().to_vec(),
    })
}
