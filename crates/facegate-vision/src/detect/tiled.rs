//! Every face of a large photo, small ones included: the detector runs over overlapping
//! tiles of an image pyramid, and what the tiles find is added to the whole-image pass.
//!
//! A detector sees a photo shrunk to its input (640 px): on a 6000x4000 event photo a
//! face 60 px wide becomes 6 px, below the smallest the detector finds. Here the finest
//! level scales the photo so that a face of `min_face` pixels reaches [`SMALLEST_FOUND`];
//! each further level halves it, down to the level where the whole photo fits one input,
//! which runs as the plain whole-image pass. Tiles overlap by a quarter of the input, so
//! every face up to that size lies whole in some tile of its level; a larger one is whole
//! at a coarser level. Faces cut by a tile's inner edge are dropped, the same face found
//! at two levels or within another is kept once, best first, and one the whole pass also
//! finds is taken from it.

use facegate_core::{BoundingBox, FaceDetection};
use image::RgbImage;

use super::{Detector, detect_with_pad_retry, pad_retry};
use crate::config::GroupPhotos;
use crate::{VisionError, imgproc};

/// Face width, in pixels of the detector input, that both detectors find reliably (their
/// smallest anchors are 10 to 16 px).
const SMALLEST_FOUND: f32 = 16.0;

/// Overlap of neighbouring tiles, as a share of the input's width and height.
const OVERLAP: f32 = 0.25;

/// Overlap of the same face found in two tiles or levels above which one is dropped.
const MERGE_IOU: f32 = 0.4;

/// Share of a detection inside another above which both are one face.
const CONTAINED: f32 = 0.5;

/// Input pixels of the tile `vision.group_photos.max_tiles` counts: 640x640, SCRFD's
/// input; a smaller input counts as its share of it.
const UNIT_TILE_PIXELS: f32 = 640.0 * 640.0;

/// A face whose box comes this close (input pixels) to an inner tile edge is taken as cut.
const EDGE_MARGIN: f32 = 2.0;

/// One pyramid level: the scale of the photo, its size there, and where its tiles start,
/// in level pixels.
#[derive(Debug, Clone, PartialEq)]
struct Level {
    scale: f32,
    width: u32,
    height: u32,
    xs: Vec<u32>,
    ys: Vec<u32>,
}

impl Level {
    fn tiles(&self) -> usize {
        self.xs.len() * self.ys.len()
    }
}

/// Starts of tiles of `tile` pixels that cover `len` with at least `overlap` shared by
/// neighbours; the last one ends at the edge.
fn starts(len: u32, tile: u32, overlap: u32) -> Vec<u32> {
    if len <= tile {
        return vec![0];
    }
    let stride = (tile - overlap).max(1);
    let mut out: Vec<u32> = (0..len - tile).step_by(stride as usize).collect();
    out.push(len - tile);
    out
}

/// The tiled levels for a `width` x `height` photo and an input of `dims`, finest first;
/// empty when the plain whole-image pass already sees faces of `min_face` pixels.
fn plan(width: u32, height: u32, dims: (u32, u32), settings: &GroupPhotos) -> Vec<Level> {
    let (tw, th) = dims;
    let whole = (tw as f32 / width as f32).min(th as f32 / height as f32);
    let overlap = ((tw as f32 * OVERLAP) as u32, (th as f32 * OVERLAP) as u32);
    let mut finest = SMALLEST_FOUND / settings.min_face.max(1) as f32;
    loop {
        let mut levels = Vec::new();
        let mut scale = finest;
        while scale > whole {
            let (w, h) = (
                (width as f32 * scale).round().max(1.0) as u32,
                (height as f32 * scale).round().max(1.0) as u32,
            );
            levels.push(Level {
                scale,
                width: w,
                height: h,
                xs: starts(w, tw, overlap.0),
                ys: starts(h, th, overlap.1),
            });
            scale /= 2.0;
        }
        let runs =
            (levels.iter().map(Level::tiles).sum::<usize>() + 1) as f32 * tw as f32 * th as f32
                / UNIT_TILE_PIXELS;
        if runs <= settings.max_tiles as f32 || levels.is_empty() {
            return levels;
        }
        finest *= 0.8;
    }
}

/// Every face of `image`: the whole-image pass (with the padded retry when nothing at all
/// is found), and the faces only the tiled levels of [`plan`] find, once each and
/// confirmed by the detector's own check ([`Detector::confirm`]). What the whole pass
/// finds is kept as it is, so that a photo's main face is the same with tiles or without.
pub fn detect_all(
    detector: &mut dyn Detector,
    image: &RgbImage,
    input: u32,
    settings: &GroupPhotos,
) -> Result<Vec<FaceDetection>, VisionError> {
    let dims = detector.input_dims(input);
    let levels = if settings.tiled {
        plan(image.width(), image.height(), dims, settings)
    } else {
        Vec::new()
    };
    let mut tiled = Vec::new();
    for level in &levels {
        tiled.extend(detect_level(detector, image, input, dims, level)?);
    }
    if tiled.is_empty() {
        return detect_with_pad_retry(detector, image, input);
    }
    let mut faces = detector.detect(image, input)?;
    tiled.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut added: Vec<FaceDetection> = Vec::new();
    for face in tiled {
        if !faces
            .iter()
            .chain(&added)
            .any(|kept| same_face(&kept.bbox, &face.bbox))
        {
            added.push(face);
        }
    }
    faces.extend(detector.confirm(image, added)?);
    if faces.is_empty() {
        // Tiles found only what the detector's check rejected: as without tiles.
        return pad_retry(detector, image, input);
    }
    Ok(faces)
}

/// Whether two detections are one face: they overlap by more than [`MERGE_IOU`], or half
/// of the smaller lies inside the larger (a finer level finds the middle of a large face).
fn same_face(a: &BoundingBox, b: &BoundingBox) -> bool {
    let inter = a.intersection(b);
    a.iou(b) > MERGE_IOU || inter > CONTAINED * a.area().min(b.area())
}

/// The faces of one level's tiles that no inner tile edge cuts, in photo coordinates.
fn detect_level(
    detector: &mut dyn Detector,
    image: &RgbImage,
    input: u32,
    (tw, th): (u32, u32),
    level: &Level,
) -> Result<Vec<FaceDetection>, VisionError> {
    let scaled = imgproc::resize(
        image,
        level.width,
        level.height,
        imgproc::Interpolation::Bilinear,
    );
    let (last_x, last_y) = (level.xs.len() - 1, level.ys.len() - 1);
    let mut faces = Vec::new();
    for (j, &y) in level.ys.iter().enumerate() {
        for (i, &x) in level.xs.iter().enumerate() {
            let tile = imgproc::crop_zero_filled(
                &scaled,
                i64::from(x),
                i64::from(y),
                i64::from(x + tw) - 1,
                i64::from(y + th) - 1,
            );
            let whole = whole_within((i > 0, j > 0, i < last_x, j < last_y), tw as f32, th as f32);
            faces.extend(
                detector
                    .detect(&tile, input)?
                    .into_iter()
                    .filter(|f| within(&f.bbox, &whole))
                    .map(|f| {
                        f.mapped(
                            1.0 / level.scale,
                            x as f32 / level.scale,
                            y as f32 / level.scale,
                        )
                    }),
            );
        }
    }
    Ok(faces)
}

/// Where a face lies whole in a `width` x `height` tile: at least [`EDGE_MARGIN`] inside
/// each of its edges that lies inside the photo (left, top, right, bottom), anywhere
/// along those that are the photo's own.
fn whole_within(inner: (bool, bool, bool, bool), width: f32, height: f32) -> BoundingBox {
    let (left, top, right, bottom) = inner;
    let edge = |is_inner: bool, at: f32, open: f32| if is_inner { at } else { open };
    BoundingBox::new(
        edge(left, EDGE_MARGIN, f32::NEG_INFINITY),
        edge(top, EDGE_MARGIN, f32::NEG_INFINITY),
        edge(right, width - EDGE_MARGIN, f32::INFINITY),
        edge(bottom, height - EDGE_MARGIN, f32::INFINITY),
    )
}

fn within(b: &BoundingBox, bounds: &BoundingBox) -> bool {
    b.x1 >= bounds.x1 && b.y1 >= bounds.y1 && b.x2 <= bounds.x2 && b.y2 <= bounds.y2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_side_with_the_overlap() {
        assert_eq!(starts(500, 640, 160), vec![0]);
        assert_eq!(starts(1000, 640, 160), vec![0, 360]);
        let s = starts(4800, 640, 160);
        assert_eq!(*s.last().unwrap(), 4160);
        assert!(s.windows(2).all(|w| w[1] - w[0] <= 480));
    }

    #[test]
    fn a_small_photo_is_not_tiled() {
        let settings = GroupPhotos::default();
        assert!(plan(640, 480, (640, 640), &settings).is_empty());
        assert!(plan(250, 250, (640, 640), &settings).is_empty());
    }

    #[test]
    fn a_24_mp_photo_is_searched_at_halving_scales_within_the_budget() {
        let settings = GroupPhotos::default();
        let levels = plan(6000, 4000, (640, 640), &settings);
        let scales: Vec<f32> = levels.iter().map(|l| l.scale).collect();
        assert_eq!(scales, vec![0.8, 0.4, 0.2]);
        let runs: usize = levels.iter().map(Level::tiles).sum::<usize>() + 1;
        assert!(runs <= 160, "{runs} runs");
        // A tighter budget coarsens the finest level instead of dropping levels.
        let tight = GroupPhotos {
            max_tiles: 40,
            ..settings
        };
        let levels = plan(6000, 4000, (640, 640), &tight);
        let runs: usize = levels.iter().map(Level::tiles).sum::<usize>() + 1;
        assert!(runs <= 40, "{runs} runs");
        assert!(levels[0].scale < 0.8);
        // Smaller inputs count by their area: the open pack's 320x240 keeps the scale.
        assert!((plan(6000, 4000, (320, 240), &settings)[0].scale - 0.8).abs() < 1e-6);
    }

    #[test]
    fn a_face_found_twice_or_within_another_is_one_face() {
        let b = BoundingBox::new;
        assert!(same_face(
            &b(0.0, 0.0, 100.0, 100.0),
            &b(10.0, 10.0, 105.0, 105.0)
        ));
        assert!(same_face(
            &b(130.0, 224.0, 547.0, 641.0),
            &b(230.0, 289.0, 454.0, 513.0)
        ));
        assert!(!same_face(
            &b(0.0, 0.0, 100.0, 100.0),
            &b(80.0, 80.0, 180.0, 180.0)
        ));
    }

    #[test]
    fn faces_on_inner_edges_are_cut() {
        // A tile on the photo's left edge, with tiles above it and to its right.
        let whole = whole_within((false, true, true, false), 640.0, 640.0);
        let b = BoundingBox::new;
        assert!(
            within(&b(0.0, 100.0, 50.0, 150.0), &whole),
            "the photo's own edge"
        );
        assert!(!within(&b(600.0, 100.0, 640.0, 150.0), &whole));
        assert!(!within(&b(100.0, 0.5, 150.0, 50.0), &whole));
        assert!(within(&b(100.0, 100.0, 150.0, 639.0), &whole));
    }
}
