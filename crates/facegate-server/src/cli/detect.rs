//! `facegate detect IMG [--draw OUT]`.

use std::path::PathBuf;
use std::time::Instant;

use facegate_core::FaceDetection;
use facegate_vision::Pipeline;
use image::{Rgb, RgbImage};
use serde::Serialize;

use crate::cli::{load_image, print_json};
use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image file (JPEG, PNG, WebP, HEIC or AVIF).
    pub image: PathBuf,
    /// Write a copy of the image with boxes and landmarks drawn on it.
    #[arg(long)]
    pub draw: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct DetectedFace {
    #[serde(flatten)]
    face: FaceDetection,
    /// `null` where the image holds too little around the face to tell.
    liveness: Option<f32>,
}

#[derive(Debug, Serialize)]
struct Output {
    width: u32,
    height: u32,
    pack: &'static str,
    faces: Vec<DetectedFace>,
    elapsed_ms: f64,
}

pub fn run(settings: &Settings, args: &Args) -> anyhow::Result<()> {
    let mut pipeline = Pipeline::open(&settings.vision)?;
    let started = Instant::now();
    let image = load_image(&pipeline, &args.image)?;
    let faces = pipeline.detect(&image)?;
    let faces = faces
        .into_iter()
        .map(|face| {
            Ok(DetectedFace {
                liveness: pipeline.liveness_if_scorable(&image, &face)?,
                face,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    if let Some(path) = &args.draw {
        let mut canvas = image.clone();
        for f in &faces {
            draw_face(&mut canvas, &f.face);
        }
        canvas.save(path)?;
    }
    print_json(&Output {
        width: image.width(),
        height: image.height(),
        pack: settings.vision.pack.as_str(),
        faces,
        elapsed_ms,
    })
}

/// Draws the box in green and the five landmarks in red.
fn draw_face(canvas: &mut RgbImage, face: &FaceDetection) {
    let thickness = i64::from((canvas.width().max(canvas.height()) / 300).max(1));
    let b = face.bbox;
    let (x1, y1, x2, y2) = (b.x1 as i64, b.y1 as i64, b.x2 as i64, b.y2 as i64);
    for t in 0..thickness {
        for x in x1..=x2 {
            put(canvas, x, y1 + t, Rgb([0, 255, 0]));
            put(canvas, x, y2 - t, Rgb([0, 255, 0]));
        }
        for y in y1..=y2 {
            put(canvas, x1 + t, y, Rgb([0, 255, 0]));
            put(canvas, x2 - t, y, Rgb([0, 255, 0]));
        }
    }
    let r = 2 * thickness;
    for p in face.landmarks.0 {
        for dy in -r..=r {
            for dx in -r..=r {
                put(canvas, p.x as i64 + dx, p.y as i64 + dy, Rgb([255, 0, 0]));
            }
        }
    }
}

fn put(canvas: &mut RgbImage, x: i64, y: i64, colour: Rgb<u8>) {
    if x >= 0 && y >= 0 && x < i64::from(canvas.width()) && y < i64::from(canvas.height()) {
        canvas.put_pixel(x as u32, y as u32, colour);
    }
}
