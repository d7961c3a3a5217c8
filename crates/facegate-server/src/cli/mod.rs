//! Command-line roles.

pub mod admin;
pub mod bench;
pub mod detect;
pub mod embed;
pub mod eval;
pub mod eval_pad;
pub mod migrate;
pub mod models;
pub mod recall;
pub mod serve;
pub mod verify;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use facegate_core::ErrorCode;
use facegate_vision::{Engine, Pipeline, VisionError};
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::evaluation::metrics::RocPoint;
use crate::evaluation::write_roc_png;
use crate::settings::Settings;

/// Prints a value as pretty JSON on stdout. A reader that stops early (`| head`) is no
/// error.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out));
    unless_closed(written)
}

/// Writes `report` as `eval-{stem}.json` and its ROC curve as `roc-{stem}.png` under
/// `out`, then prints `summary` and where both went.
pub fn write_report<T: Serialize>(
    out: &Path,
    stem: &str,
    report: &T,
    roc: &[RocPoint],
    title: &str,
    mut summary: String,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let json_path = out.join(format!("eval-{stem}.json"));
    let png_path = out.join(format!("roc-{stem}.png"));
    std::fs::write(&json_path, serde_json::to_string_pretty(report)?)?;
    write_roc_png(roc, title, &png_path)?;
    let _ = writeln!(
        summary,
        "report: {}\nROC curve: {}",
        json_path.display(),
        png_path.display()
    );
    print_text(&summary)
}

/// Prints text on stdout, a reader that stops early being no error.
pub fn print_text(text: &str) -> anyhow::Result<()> {
    unless_closed(std::io::stdout().lock().write_all(text.as_bytes()))
}

/// A write's outcome, where a closed stdout is no error.
fn unless_closed(written: std::io::Result<()>) -> anyhow::Result<()> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Prints the error as a JSON body with its stable code on stderr; exit status 2 for bad
/// input, 1 otherwise.
pub fn fail(error: &anyhow::Error) -> ExitCode {
    let code = error
        .downcast_ref::<VisionError>()
        .map_or(ErrorCode::Internal, VisionError::code);
    let body = serde_json::json!({
        "error": {
            "code": code.as_str(),
            "type": code.error_type(),
            "message": format!("{error:#}"),
        }
    });
    eprintln!("{body}");
    if code.http_status() < 500 {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// Reads and decodes an image file within the configured limits.
pub fn load_image(pipeline: &Pipeline, path: &Path) -> anyhow::Result<RgbImage> {
    let bytes = read_image_file(path)?;
    pipeline
        .decode(&bytes)
        .map_err(|e| anyhow::Error::new(e).context(path.display().to_string()))
}

/// The main face of the image file at `path`, embedded as the API's main-face operations
/// do ([`Pipeline::embed_main_photo`]).
pub fn embed_main_file(
    pipeline: &mut Pipeline,
    path: &Path,
) -> anyhow::Result<facegate_vision::MainFaceEmbedding> {
    let bytes = read_image_file(path)?;
    pipeline
        .embed_main_photo(&bytes)
        .map_err(|e| anyhow::Error::new(e).context(path.display().to_string()))
}

fn read_image_file(path: &Path) -> Result<Vec<u8>, VisionError> {
    std::fs::read(path)
        .map_err(|e| VisionError::Undecodable(format!("cannot read {}: {e}", path.display())))
}

/// Runs `work` on the decoded image of every file under `root`, on all of the engine's
/// workers, with a progress bar; the outcomes come back in the files' order.
pub fn on_each_image<T, F>(
    engine: &Engine,
    root: &Path,
    files: &[&str],
    work: F,
) -> anyhow::Result<Vec<Result<T, VisionError>>>
where
    T: Send + 'static,
    F: Fn(&mut Pipeline, &RgbImage) -> Result<T, VisionError> + Clone + Send + 'static,
{
    let progress = ProgressBar::new(files.len() as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} images {per_sec} eta {eta}",
    )?);
    let receivers = files
        .iter()
        .map(|file| {
            let (path, work) = (root.join(file), work.clone());
            engine.submit(move |p| {
                let bytes = std::fs::read(&path)
                    .map_err(|e| VisionError::Undecodable(format!("{}: {e}", path.display())))?;
                let image = p.decode(&bytes)?;
                work(p, &image)
            })
        })
        .collect::<Result<Vec<_>, VisionError>>()?;
    let mut outcomes = Vec::with_capacity(receivers.len());
    for rx in receivers {
        outcomes.push(rx.recv().map_err(|_| VisionError::EngineStopped)?);
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(outcomes)
}

/// The effective settings as TOML, secrets redacted, after a comment naming each
/// variable carried over from another system's `.env` and what it set.
pub fn print_config(settings: &Settings) -> anyhow::Result<()> {
    let mut text = String::new();
    for c in crate::carried_env::present(&|name| std::env::var(name).ok()) {
        let _ = writeln!(text, "# {} -> {}", c.name, c.settings);
    }
    text.push_str(&toml::to_string_pretty(&settings.redacted())?);
    print_text(&text)
}
