//! `facegate bench`: per-stage latency (median, p95) and throughput, in process, model
//! loading excluded.

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Instant;

use facegate_core::{FaceDetection, similarity};
use facegate_vision::{Engine, Pipeline, VisionConfig};
use image::RgbImage;
use serde::Serialize;

use crate::cli::print_json;
use crate::settings::Settings;

const DATASET: &str = "../shared/datasets/identities/face_recognition-examples";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// First photo of the verified pair.
    #[arg(long, default_value_t = format!("{DATASET}/barack_obama/obama1.jpg"))]
    pub image_a: String,
    /// Second photo of the verified pair.
    #[arg(long, default_value_t = format!("{DATASET}/barack_obama/obama2.jpg"))]
    pub image_b: String,
    /// Longer side the photos are resized to before JPEG encoding (0 keeps them as they are).
    #[arg(long, default_value_t = 640)]
    pub size: u32,
    /// Measured iterations per configuration.
    #[arg(long, default_value_t = 30)]
    pub iterations: usize,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Only write the two prepared JPEGs (`a.jpg`, `b.jpg`) into this folder and exit
    /// (the load test sends the same photos).
    #[arg(long)]
    pub write_photos: Option<PathBuf>,
}

/// Median and 95th percentile of one stage, in milliseconds.
#[derive(Debug, Serialize)]
struct Stat {
    median_ms: f64,
    p95_ms: f64,
}

fn stat(mut samples: Vec<f64>) -> Stat {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stat {
        median_ms: at(0.5),
        p95_ms: at(0.95),
    }
}

#[derive(Debug, Serialize)]
struct Latency {
    intra_threads: usize,
    decode: Stat,
    detect: Stat,
    align: Stat,
    embed_per_face: Stat,
    liveness: Stat,
    verify_pair: Stat,
}

#[derive(Debug, Serialize)]
struct Throughput {
    workers: usize,
    faces_per_second: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    pack: &'static str,
    model: String,
    flip_tta: bool,
    image_sizes: [[u32; 2]; 2],
    iterations: usize,
    latency: Vec<Latency>,
    throughput: Vec<Throughput>,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// Loads a photo, resizes it so its longer side is `size`, and encodes it as JPEG.
fn prepare(path: &str, size: u32) -> anyhow::Result<(Vec<u8>, [u32; 2])> {
    let img = image::open(path).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    let img = if size > 0 {
        img.resize(size, size, image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(img.to_rgb8())
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Jpeg)?;
    Ok((bytes, [img.width(), img.height()]))
}

/// The photo with a border as wide as itself, and its main face there: portraits are cut
/// too close to the face for the liveness check, which needs the camera's whole frame.
fn framed(pipeline: &mut Pipeline, bytes: &[u8]) -> anyhow::Result<(RgbImage, FaceDetection)> {
    let image = pipeline.decode(bytes)?;
    let border = image.width().max(image.height()) / 2;
    let frame = facegate_vision::imgproc::pad(&image, border);
    let faces = pipeline.detect_main(&frame)?;
    let face = *faces.first().ok_or(facegate_vision::VisionError::NoFace)?;
    Ok((frame, face))
}

fn latency(
    config: &VisionConfig,
    photos: &[Vec<u8>; 2],
    iterations: usize,
) -> anyhow::Result<Latency> {
    let mut pipeline = Pipeline::open(config)?;
    pipeline.warm_up()?;
    let framed = photos
        .iter()
        .map(|bytes| framed(&mut pipeline, bytes))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut samples: [Vec<f64>; 6] = Default::default();
    for i in 0..iterations + 2 {
        let pair_start = Instant::now();
        let mut embeddings = Vec::new();
        let mut stages = [0.0; 5];
        for (bytes, (frame, framed_face)) in photos.iter().zip(&framed) {
            let t = Instant::now();
            let image = pipeline.decode(bytes)?;
            stages[0] += ms(t);
            let t = Instant::now();
            let faces = pipeline.detect_main(&image)?;
            stages[1] += ms(t);
            let face = faces.first().ok_or(facegate_vision::VisionError::NoFace)?;
            let t = Instant::now();
            let crop = Pipeline::align(&image, face)?;
            stages[2] += ms(t);
            let t = Instant::now();
            embeddings.extend(pipeline.embed_aligned(std::slice::from_ref(&crop))?);
            stages[3] += ms(t);
            let t = Instant::now();
            pipeline.liveness(frame, framed_face)?;
            stages[4] += ms(t);
        }
        similarity::cosine(&embeddings[0], &embeddings[1])?;
        // The pair total is decode + detect + align + embed of both photos and the
        // comparison; liveness is timed apart.
        let pair = ms(pair_start) - stages[4];
        if i >= 2 {
            for (s, v) in samples.iter_mut().zip(stages) {
                s.push(v / 2.0);
            }
            samples[5].push(pair);
        }
    }
    let [decode, detect, align, embed, liveness, pair] = samples;
    Ok(Latency {
        intra_threads: config.intra_threads,
        decode: stat(decode),
        detect: stat(detect),
        align: stat(align),
        embed_per_face: stat(embed),
        liveness: stat(liveness),
        verify_pair: stat(pair),
    })
}

fn throughput(
    config: &VisionConfig,
    photos: &[Vec<u8>; 2],
    iterations: usize,
) -> anyhow::Result<Throughput> {
    let engine = Engine::start(config)?;
    let jobs = iterations * 2 * config.workers;
    let start = Instant::now();
    let receivers = (0..jobs)
        .map(|i| {
            let bytes = photos[i % 2].clone();
            engine.submit(move |p| p.embed_main_photo(&bytes).map(|_| ()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for rx in receivers {
        rx.recv()
            .map_err(|_| facegate_vision::VisionError::EngineStopped)??;
    }
    Ok(Throughput {
        workers: config.workers,
        faces_per_second: jobs as f64 / start.elapsed().as_secs_f64(),
    })
}

pub fn run(settings: &Settings, args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.iterations >= 1, "--iterations must be at least 1");
    let (a, size_a) = prepare(&args.image_a, args.size)?;
    let (b, size_b) = prepare(&args.image_b, args.size)?;
    if let Some(dir) = &args.write_photos {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("a.jpg"), &a)?;
        std::fs::write(dir.join("b.jpg"), &b)?;
        return Ok(());
    }
    let photos = [a, b];
    let mut report = Report {
        pack: settings.vision.pack.as_str(),
        model: String::new(),
        flip_tta: settings.vision.flip_tta,
        image_sizes: [size_a, size_b],
        iterations: args.iterations,
        latency: Vec::new(),
        throughput: Vec::new(),
    };
    for threads in [1, 2] {
        let config = VisionConfig {
            intra_threads: threads,
            workers: 1,
            ..settings.vision.clone()
        };
        report
            .latency
            .push(latency(&config, &photos, args.iterations)?);
        let config = VisionConfig {
            intra_threads: 1,
            workers: threads,
            ..settings.vision.clone()
        };
        report
            .throughput
            .push(throughput(&config, &photos, args.iterations)?);
    }
    facegate_vision::embed::EmbedderSpec::for_model(settings.vision.embedding_model())
        .model_id
        .clone_into(&mut report.model);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    print_json(&report)
}
