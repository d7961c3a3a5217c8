//! `facegate eval`: verification accuracy on a labelled pair list, LFW protocol.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use facegate_core::{Embedding, similarity};
use facegate_vision::{Engine, Pipeline, VisionError};
use image::RgbImage;

use crate::cli::on_each_image;
use crate::evaluation::{
    EvalReport, RunInfo, ScoredPairs, labels_and_folds, read_pairs, write_roc_png,
};
use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pair list: `file_x,file_y,Decision[,fold]` (e.g. ../shared/datasets/lfw/pairs.csv).
    #[arg(long)]
    pub pairs: PathBuf,
    /// Folder the pair paths are relative to (default: the pair list's folder).
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Folder for the JSON report and the ROC curve.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Name of this run, used in the output file names (default: the pack's name).
    #[arg(long)]
    pub name: Option<String>,
}

/// The main face's embedding of one image, and the time its embedding took.
struct ImageResult {
    embedding: Option<Embedding>,
    embed_ms: f64,
}

/// The main face's embedding of one image, or `None` without a face.
fn embed_image(p: &mut Pipeline, image: &RgbImage) -> Result<ImageResult, VisionError> {
    let faces = p.detect_main(image)?;
    let Some(main) = faces.first() else {
        return Ok(ImageResult {
            embedding: None,
            embed_ms: 0.0,
        });
    };
    let started = Instant::now();
    let embedded = p.embed_faces(image, std::slice::from_ref(main))?;
    Ok(ImageResult {
        embedding: embedded.into_iter().next().map(|e| e.embedding),
        embed_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// What embedding every image of a pair list gave.
struct Embedded<'a> {
    embeddings: BTreeMap<&'a str, Embedding>,
    no_face: Vec<String>,
    embed_ms: Vec<f64>,
}

/// Embeds every image on all workers, with a progress bar.
fn embed_images<'a>(
    engine: &Engine,
    root: &Path,
    names: &[&'a str],
) -> anyhow::Result<Embedded<'a>> {
    let outcomes = on_each_image(engine, root, names, embed_image)?;
    let mut embeddings: BTreeMap<&str, Embedding> = BTreeMap::new();
    let mut no_face = Vec::new();
    let mut embed_ms = Vec::new();
    for (name, result) in names.iter().zip(outcomes) {
        match result {
            Ok(ImageResult {
                embedding: Some(e),
                embed_ms: ms,
            }) => {
                embed_ms.push(ms);
                embeddings.insert(name, e);
            }
            Ok(ImageResult {
                embedding: None, ..
            }) => no_face.push((*name).to_owned()),
            Err(e) => {
                tracing::warn!(image = name, error = %e, "image could not be used");
                no_face.push((*name).to_owned());
            }
        }
    }
    Ok(Embedded {
        embeddings,
        no_face,
        embed_ms,
    })
}

pub fn run(settings: &Settings, args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let pairs = read_pairs(&args.pairs)?;
    let root = args
        .images
        .clone()
        .or_else(|| args.pairs.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let names: Vec<&str> = {
        let mut set: Vec<&str> = pairs
            .iter()
            .flat_map(|p| [p.left.as_str(), p.right.as_str()])
            .collect();
        set.sort_unstable();
        set.dedup();
        set
    };
    let engine = Engine::start(&settings.vision)?;
    let Embedded {
        embeddings,
        no_face,
        embed_ms,
    } = embed_images(&engine, &root, &names)?;
    // A pair with an image where no face was found counts as "different": an error for
    // same-person pairs, as the protocol demands.
    let scores: Vec<f32> = pairs
        .iter()
        .map(|p| {
            match (
                embeddings.get(p.left.as_str()),
                embeddings.get(p.right.as_str()),
            ) {
                (Some(a), Some(b)) => similarity::cosine(a, b).unwrap_or(-1.0),
                _ => -1.0,
            }
        })
        .collect();
    let (labels, folds) = labels_and_folds(&pairs);
    let v = &settings.vision;
    let run = RunInfo {
        dataset: root.display().to_string(),
        pairs_path: args.pairs.display().to_string(),
        num_images: names.len(),
        no_face,
        config: serde_json::json!({
            "pack": v.pack,
            "model": engine.model_id().to_string(),
            "landmarks": v.landmarks,
            "main_face": v.main_face,
            "flip_tta": v.flip_tta,
            "detection_threshold": v.detection_threshold,
            "detection_size": v.detection_size,
            "main_face_detection_size": v.main_face_detection_size,
            "workers": v.workers,
        }),
        embed_ms_per_face: embed_ms.iter().sum::<f64>() / embed_ms.len().max(1) as f64,
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    let report = EvalReport::from_scores(
        run,
        ScoredPairs {
            scores: &scores,
            labels: &labels,
            folds: &folds,
        },
    )?;
    std::fs::create_dir_all(&args.out)?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| v.pack.as_str().to_owned());
    let json_path = args.out.join(format!("eval-{name}.json"));
    let png_path = args.out.join(format!("roc-{name}.png"));
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)?;
    write_roc_png(&report.roc, &format!("ROC: {name}"), &png_path)?;
    println!("{}", report.summary());
    println!(
        "report: {}\nROC curve: {}",
        json_path.display(),
        png_path.display()
    );
    Ok(())
}
