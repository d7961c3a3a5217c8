//! `facegate verify A B`.

use std::path::PathBuf;

use facegate_core::{Decision, Threshold, similarity};
use facegate_vision::Pipeline;
use serde::Serialize;

use crate::cli::{embed_main_file, print_json};
use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub image_a: PathBuf,
    pub image_b: PathBuf,
    /// Cosine threshold; defaults to the model's LFW threshold at FAR 1e-3.
    #[arg(long)]
    pub threshold: Option<f32>,
}

#[derive(Debug, Serialize)]
struct Output {
    similarity: f32,
    decision: Decision,
    threshold: f32,
    model: String,
    faces: [usize; 2],
    /// A face is turned beyond `policy.low_confidence_yaw_ratio`, as the API answers.
    low_confidence: bool,
}

pub fn run(settings: &Settings, args: &Args) -> anyhow::Result<()> {
    let mut pipeline = Pipeline::open(&settings.vision)?;
    let a = embed_main_file(&mut pipeline, &args.image_a)?;
    let b = embed_main_file(&mut pipeline, &args.image_b)?;
    let policy = settings.policy();
    let threshold = args.threshold.unwrap_or(policy.threshold);
    let similarity = similarity::cosine(&a.main.embedding, &b.main.embedding)?;
    print_json(&Output {
        similarity,
        decision: Threshold(threshold).decide(similarity),
        threshold,
        model: a.main.embedding.model().to_string(),
        faces: [a.face_count, b.face_count],
        low_confidence: policy.turned(&a.main.face) || policy.turned(&b.main.face),
    })
}
