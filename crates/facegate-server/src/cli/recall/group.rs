//! `facegate recall group`: every face of large group photos, and selfie search among them.
//!
//! No annotated group photos ship with the datasets, so they are made
//! ([`crate::evaluation::composite`]) from LFW people with two photos or more: each
//! person's first photo is kept out as their selfie, the others are pasted onto the group
//! photos. With the configured pack, then:
//! - **detection**, once as a single pass over the photo shrunk to the detector input and
//!   once in tiles (`vision.group_photos`): recall by face width, time per photo. A face
//!   counts as found when a detection overlaps its box with IoU >= `--min-iou`.
//! - **search**: every face the tiled pass finds is embedded, each selfie is compared with
//!   every face, and a photo is returned for a person when one of its faces reaches the
//!   search threshold, as a session search does. Recall of the person's photos is counted
//!   by the width of their face there, beside every photo returned that does not hold them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use facegate_core::similarity;
use facegate_vision::{GroupPhotos, Pipeline, VisionConfig};
use serde::Serialize;

use crate::cli::{load_image, print_json};
use crate::evaluation::composite::{Composite, Layout, Source, compose};
use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// LFW folder: one sub-folder of photos per person.
    #[arg(long, default_value = "../shared/datasets/lfw")]
    pub lfw: PathBuf,
    /// People pasted onto the photos.
    #[arg(long, default_value_t = 40)]
    pub people: usize,
    /// Group photos made.
    #[arg(long, default_value_t = 8)]
    pub photos: usize,
    /// Faces placed on each photo.
    #[arg(long, default_value_t = 40)]
    pub faces: usize,
    #[arg(long, default_value_t = 6000)]
    pub width: u32,
    #[arg(long, default_value_t = 4000)]
    pub height: u32,
    /// Face widths are drawn log-uniformly between `--min-face` and `--max-face` pixels.
    #[arg(long, default_value_t = 16.0)]
    pub min_face: f32,
    #[arg(long, default_value_t = 300.0)]
    pub max_face: f32,
    /// Overlap with a placed face's box for a detection to count as finding it.
    #[arg(long, default_value_t = 0.4)]
    pub min_iou: f32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the photos here as JPEG, for a look.
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Write the report here as JSON as well.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Lower edges of the face-width bands of the report, in pixels.
const BANDS: [f32; 5] = [0.0, 24.0, 48.0, 96.0, 192.0];

#[derive(Debug, Default, Serialize)]
struct Band {
    from_px: f32,
    faces: usize,
    found: usize,
}

fn bands() -> Vec<Band> {
    BANDS
        .iter()
        .map(|&from_px| Band {
            from_px,
            ..Band::default()
        })
        .collect()
}

fn count(bands: &mut [Band], width: f32, found: bool) {
    let i = BANDS.iter().rposition(|&e| width >= e).unwrap_or(0);
    bands[i].faces += 1;
    bands[i].found += usize::from(found);
}

#[derive(Debug, Serialize)]
struct Detection {
    tiled: bool,
    faces: usize,
    found: usize,
    recall: f64,
    by_width: Vec<Band>,
    /// Detections that overlap no placed face (a pasted square may hold a bystander).
    unmatched: usize,
    ms_per_photo: f64,
}

#[derive(Debug, Serialize)]
struct Search {
    threshold: f32,
    /// (person, photo) pairs where the person is on the photo.
    appearances: usize,
    returned: usize,
    recall: f64,
    by_width: Vec<Band>,
    /// Photos returned for a person who is not on them.
    wrong_photos: usize,
    ms_embedding_per_photo: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    pack: &'static str,
    intra_threads: usize,
    photos: usize,
    width: u32,
    height: u32,
    faces_placed: usize,
    min_iou: f32,
    group_photos: GroupPhotos,
    detection: Vec<Detection>,
    search: Search,
}

pub fn run(settings: &Settings, args: &Args) -> anyhow::Result<()> {
    let group_photos = GroupPhotos {
        tiled: true,
        ..settings.vision.group_photos
    };
    let mut single = Pipeline::open(&VisionConfig {
        group_photos: GroupPhotos {
            tiled: false,
            ..group_photos
        },
        ..settings.vision.clone()
    })?;
    let mut tiled = Pipeline::open(&VisionConfig {
        group_photos,
        ..settings.vision.clone()
    })?;
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let (sources, selfies) = people(&mut tiled, args, &mut rng)?;
    anyhow::ensure!(
        !sources.is_empty(),
        "no LFW faces under {}",
        args.lfw.display()
    );
    let layout = Layout {
        width: args.width,
        height: args.height,
        faces: args.faces,
        min_face: args.min_face,
        max_face: args.max_face,
    };
    let composites: Vec<Composite> = (0..args.photos)
        .map(|_| compose(&mut rng, &sources, &layout))
        .collect();
    if let Some(dir) = &args.save {
        std::fs::create_dir_all(dir)?;
        for (i, c) in composites.iter().enumerate() {
            c.image.save(dir.join(format!("group-{i:02}.jpg")))?;
        }
    }
    let (single_pass, _) = detection(&mut single, &composites, args.min_iou)?;
    let (tiled_pass, found) = detection(&mut tiled, &composites, args.min_iou)?;
    let search = search(
        &mut tiled,
        settings.policy().search_threshold,
        &composites,
        &found,
        &sources,
        &selfies,
    )?;
    let report = Report {
        pack: settings.vision.pack.as_str(),
        intra_threads: settings.vision.intra_threads,
        photos: composites.len(),
        width: args.width,
        height: args.height,
        faces_placed: composites.iter().map(|c| c.faces.len()).sum(),
        min_iou: args.min_iou,
        group_photos,
        detection: vec![single_pass, tiled_pass],
        search,
    };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    print_json(&report)
}

/// A person's photo that is not pasted: what searches for them.
struct Selfie {
    identity: String,
    path: PathBuf,
}

/// Pasted photos and selfies of `--people` people drawn among those with two photos or
/// more; a photo's face is the main face `pipeline` finds on it.
fn people(
    pipeline: &mut Pipeline,
    args: &Args,
    rng: &mut fastrand::Rng,
) -> anyhow::Result<(Vec<Source>, Vec<Selfie>)> {
    let mut names: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for entry in std::fs::read_dir(&args.lfw)? {
        let dir = entry?.path();
        if !dir.is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
            .collect();
        if files.len() >= 2 {
            files.sort();
            names.push((file_name(&dir), files));
        }
    }
    names.sort();
    rng.shuffle(&mut names);
    names.truncate(args.people);
    let mut sources = Vec::new();
    let mut selfies = Vec::new();
    for (name, files) in names {
        selfies.push(Selfie {
            identity: name.clone(),
            path: files[0].clone(),
        });
        for path in files.iter().skip(1).take(3) {
            let image = load_image(pipeline, path)?;
            if let Ok(face) = pipeline.main_face(&image) {
                sources.push(Source {
                    identity: name.clone(),
                    image,
                    face: face.bbox,
                });
            }
        }
    }
    Ok((sources, selfies))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// For each photo, its detections, each with the placed face it found (`Some(index)`) or
/// none.
type Matched = Vec<Vec<(facegate_core::FaceDetection, Option<usize>)>>;

/// Detection recall of one configuration, and what it found on each photo.
fn detection(
    pipeline: &mut Pipeline,
    composites: &[Composite],
    min_iou: f32,
) -> anyhow::Result<(Detection, Matched)> {
    let mut by_width = bands();
    let mut matched = Vec::new();
    let mut unmatched = 0;
    let started = Instant::now();
    for composite in composites {
        let faces = pipeline.detect(&composite.image)?;
        let assigned: Vec<_> = faces
            .iter()
            .map(|d| {
                let best = composite
                    .faces
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (i, p.bbox.iou(&d.bbox)))
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                (*d, best.filter(|&(_, iou)| iou >= min_iou).map(|(i, _)| i))
            })
            .collect();
        unmatched += assigned.iter().filter(|(_, m)| m.is_none()).count();
        for (i, placed) in composite.faces.iter().enumerate() {
            let found = assigned.iter().any(|(_, m)| *m == Some(i));
            count(&mut by_width, placed.bbox.width(), found);
        }
        matched.push(assigned);
    }
    let elapsed = started.elapsed();
    let faces: usize = by_width.iter().map(|b| b.faces).sum();
    let found: usize = by_width.iter().map(|b| b.found).sum();
    Ok((
        Detection {
            tiled: pipeline.config().group_photos.tiled,
            faces,
            found,
            recall: found as f64 / faces.max(1) as f64,
            by_width,
            unmatched,
            ms_per_photo: elapsed.as_secs_f64() * 1e3 / composites.len().max(1) as f64,
        },
        matched,
    ))
}

/// Embeds every detection, then searches the photos with each person's selfie.
fn search(
    pipeline: &mut Pipeline,
    threshold: f32,
    composites: &[Composite],
    found: &Matched,
    sources: &[Source],
    selfies: &[Selfie],
) -> anyhow::Result<Search> {
    let started = Instant::now();
    let mut indexed = Vec::new();
    for (composite, detections) in composites.iter().zip(found) {
        let faces: Vec<_> = detections.iter().map(|(d, _)| *d).collect();
        indexed.push(pipeline.embed_faces(&composite.image, &faces)?);
    }
    let ms_embedding_per_photo =
        started.elapsed().as_secs_f64() * 1e3 / composites.len().max(1) as f64;
    let mut by_width = bands();
    let mut wrong_photos = 0;
    for selfie in selfies {
        let image = load_image(pipeline, &selfie.path)?;
        let Ok(probe) = pipeline.embed_main(&image) else {
            continue;
        };
        for (composite, faces) in composites.iter().zip(&indexed) {
            let returned = faces.iter().any(|f| {
                similarity::cosine(&probe.main.embedding, &f.embedding)
                    .is_ok_and(|s| s >= threshold)
            });
            let widest = composite
                .faces
                .iter()
                .filter(|p| sources[p.source].identity == selfie.identity)
                .map(|p| p.bbox.width())
                .reduce(f32::max);
            match widest {
                Some(width) => count(&mut by_width, width, returned),
                None => wrong_photos += usize::from(returned),
            }
        }
    }
    let appearances: usize = by_width.iter().map(|b| b.faces).sum();
    let returned: usize = by_width.iter().map(|b| b.found).sum();
    Ok(Search {
        threshold,
        appearances,
        returned,
        recall: returned as f64 / appearances.max(1) as f64,
        by_width,
        wrong_photos,
        ms_embedding_per_photo,
    })
}
