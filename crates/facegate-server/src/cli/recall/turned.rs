//! `facegate recall turned`: detection recall on turned faces.
//!
//! No labelled pose set ships with the datasets, so one is made: the `insightface` pack's
//! SCRFD (trained on WIDER FACE, which holds many profiles) finds the faces, the analysis
//! pack's head-pose model estimates each face's yaw, and the faces turned at least
//! `--min-yaw` degrees form the set. The `open` pack is then run on the same images with
//! and without its MTCNN fallback; a turned face counts as found when an `open` face
//! overlaps its box with IoU >= `--min-iou`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use facegate_core::BoundingBox;
use facegate_vision::{Pack, Pipeline, VisionConfig};
use serde::Serialize;

use crate::cli::{load_image, print_json};
use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folders searched (recursively) for JPEG and PNG images.
    #[arg(long, required = true)]
    pub images: Vec<PathBuf>,
    /// Smallest |yaw| in degrees for a face to count as turned.
    #[arg(long, default_value_t = 45.0)]
    pub min_yaw: f32,
    /// Overlap with the reference box for a face to count as found.
    #[arg(long, default_value_t = 0.3)]
    pub min_iou: f32,
    /// Write the report here as JSON as well.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// A turned face of the set.
#[derive(Debug, Clone, Serialize)]
struct TurnedFace {
    image: String,
    bbox: BoundingBox,
    yaw: f32,
}

/// How one `open` configuration did on the set.
#[derive(Debug, Serialize)]
struct Configuration {
    mtcnn_fallback: bool,
    found: usize,
    recall: f64,
    /// Recall per |yaw| bucket: 45-60, 60-75, 75+ degrees (with the default `--min-yaw`).
    by_yaw: Vec<Bucket>,
    ms_per_image: f64,
    /// Images of the set where the configuration missed the turned face.
    missed: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Bucket {
    from_degrees: f32,
    faces: usize,
    found: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    images_scanned: usize,
    faces_seen: usize,
    turned_faces: usize,
    min_yaw: f32,
    min_iou: f32,
    configurations: Vec<Configuration>,
}

pub fn run(settings: &Settings, args: &Args) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for dir in &args.images {
        collect_images(dir, &mut files)?;
    }
    files.sort();
    let reference = VisionConfig {
        pack: Pack::Insightface,
        embedding: None,
        ..settings.vision.clone()
    };
    let (turned, faces_seen) = turned_faces(&reference, &files, args.min_yaw)?;
    let mut configurations = Vec::new();
    for fallback in [false, true] {
        let config = VisionConfig {
            pack: Pack::Open,
            embedding: None,
            detector_fallback: fallback,
            ..settings.vision.clone()
        };
        configurations.push(recall(&config, &turned, args)?);
    }
    let report = Report {
        images_scanned: files.len(),
        faces_seen,
        turned_faces: turned.len(),
        min_yaw: args.min_yaw,
        min_iou: args.min_iou,
        configurations,
    };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    print_json(&report)
}

fn collect_images(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_images(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Every face the reference pack finds, with its yaw; keeps those turned `min_yaw` or more.
fn turned_faces(
    config: &VisionConfig,
    files: &[PathBuf],
    min_yaw: f32,
) -> anyhow::Result<(Vec<TurnedFace>, usize)> {
    let mut pipeline = Pipeline::open(config)?;
    let mut turned = Vec::new();
    let mut seen = 0;
    for file in files {
        let Ok(image) = load_image(&pipeline, file) else {
            continue;
        };
        for face in pipeline.detect(&image)? {
            seen += 1;
            let yaw = pipeline.attributes(&image, &face)?.pose.yaw;
            if yaw.abs() >= min_yaw {
                turned.push(TurnedFace {
                    image: file.display().to_string(),
                    bbox: face.bbox,
                    yaw,
                });
            }
        }
    }
    Ok((turned, seen))
}

fn recall(
    config: &VisionConfig,
    turned: &[TurnedFace],
    args: &Args,
) -> anyhow::Result<Configuration> {
    let mut pipeline = Pipeline::open(config)?;
    let edges = [args.min_yaw, args.min_yaw + 15.0, args.min_yaw + 30.0];
    let mut by_yaw: Vec<Bucket> = edges
        .iter()
        .map(|&from_degrees| Bucket {
            from_degrees,
            faces: 0,
            found: 0,
        })
        .collect();
    let mut missed = Vec::new();
    let started = Instant::now();
    for face in turned {
        let image = load_image(&pipeline, Path::new(&face.image))?;
        let found = pipeline
            .detect(&image)?
            .iter()
            .any(|f| f.bbox.iou(&face.bbox) >= args.min_iou);
        let bucket = edges
            .iter()
            .rposition(|&e| face.yaw.abs() >= e)
            .unwrap_or(0);
        by_yaw[bucket].faces += 1;
        if found {
            by_yaw[bucket].found += 1;
        } else {
            missed.push(face.image.clone());
        }
    }
    let found = turned.len() - missed.len();
    Ok(Configuration {
        mtcnn_fallback: config.detector_fallback,
        found,
        recall: found as f64 / turned.len().max(1) as f64,
        by_yaw,
        ms_per_image: started.elapsed().as_secs_f64() * 1e3 / turned.len().max(1) as f64,
        missed,
    })
}
