//! Group photos made from single-face photos, every face's box and identity known: what
//! `facegate recall group` measures detection and search on, since no annotated group
//! photos ship with the datasets.
//!
//! Each photo is a background of several megapixels (a smooth colour field with blobs and
//! grain, so that it is neither flat nor face-like) with faces pasted at random sizes and
//! places, none overlapping. A face is pasted with its surroundings (a square twice its
//! size, kept inside its source photo), scaled so that the face is the drawn width.

use facegate_core::BoundingBox;
use image::{Rgb, RgbImage};

use facegate_vision::imgproc::{self, Interpolation};

/// A photo of one face, and where the face is in it.
#[derive(Debug, Clone)]
pub struct Source {
    pub identity: String,
    pub image: RgbImage,
    pub face: BoundingBox,
}

/// The size of the photos and of the faces drawn on them.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub width: u32,
    pub height: u32,
    /// Faces placed on each photo (fewer when no free place is left).
    pub faces: usize,
    /// Face widths are drawn log-uniformly between these, in pixels.
    pub min_face: f32,
    pub max_face: f32,
}

/// A face placed on a composite photo.
#[derive(Debug, Clone)]
pub struct PlacedFace {
    /// Index into the sources.
    pub source: usize,
    pub bbox: BoundingBox,
}

/// A composite photo and its faces.
#[derive(Debug)]
pub struct Composite {
    pub image: RgbImage,
    pub faces: Vec<PlacedFace>,
}

/// Attempts at a free place for one face before it is left out.
const PLACEMENT_TRIES: usize = 200;

/// One composite photo drawn from `sources` with `rng`.
pub fn compose(rng: &mut fastrand::Rng, sources: &[Source], layout: &Layout) -> Composite {
    let mut image = background(rng, layout.width, layout.height);
    let mut taken: Vec<(i64, i64, i64, i64)> = Vec::new();
    let mut faces = Vec::new();
    for _ in 0..layout.faces {
        let index = rng.usize(..sources.len());
        let source = &sources[index];
        let width = (layout.min_face.ln()
            + rng.f32() * (layout.max_face.ln() - layout.min_face.ln()))
        .exp();
        let (patch, face) = patch(source, width);
        let (pw, ph) = (i64::from(patch.width()), i64::from(patch.height()));
        let (free_w, free_h) = (i64::from(layout.width) - pw, i64::from(layout.height) - ph);
        if free_w < 0 || free_h < 0 {
            continue;
        }
        let place = (0..PLACEMENT_TRIES)
            .map(|_| (rng.i64(0..=free_w), rng.i64(0..=free_h)))
            .find(|&(x, y)| {
                taken.iter().all(|&(tx, ty, tw, th)| {
                    x + pw <= tx || tx + tw <= x || y + ph <= ty || ty + th <= y
                })
            });
        let Some((x, y)) = place else {
            continue;
        };
        image::imageops::replace(&mut image, &patch, x, y);
        taken.push((x, y, pw, ph));
        faces.push(PlacedFace {
            source: index,
            bbox: BoundingBox::new(
                face.x1 + x as f32,
                face.y1 + y as f32,
                face.x2 + x as f32,
                face.y2 + y as f32,
            ),
        });
    }
    Composite { image, faces }
}

/// The square around the source's face, twice the face's longer side (kept inside the
/// source), scaled so that the face is `width` pixels wide; and the face's box in it.
fn patch(source: &Source, width: f32) -> (RgbImage, BoundingBox) {
    let f = source.face;
    let (sw, sh) = (source.image.width() as f32, source.image.height() as f32);
    let side = (2.0 * f.width().max(f.height())).min(sw).min(sh).max(1.0);
    let c = f.center();
    let x0 = (c.x - side / 2.0).clamp(0.0, sw - side).floor();
    let y0 = (c.y - side / 2.0).clamp(0.0, sh - side).floor();
    let side_px = side as u32;
    let square = imgproc::crop(&source.image, x0 as u32, y0 as u32, side_px, side_px);
    let k = width / f.width().max(1.0);
    let out = ((side_px as f32 * k).round() as u32).max(1);
    let k = out as f32 / side_px as f32;
    let scaled = imgproc::resize(&square, out, out, Interpolation::Area);
    let face = BoundingBox::new(
        (f.x1 - x0) * k,
        (f.y1 - y0) * k,
        (f.x2 - x0) * k,
        (f.y2 - y0) * k,
    );
    (scaled, face)
}

/// A smooth colour field between four random corner colours, with soft blobs of other
/// colours and pixel grain.
fn background(rng: &mut fastrand::Rng, width: u32, height: u32) -> RgbImage {
    let colour =
        |rng: &mut fastrand::Rng| [rng.f32() * 255.0, rng.f32() * 255.0, rng.f32() * 255.0];
    let corners = [colour(rng), colour(rng), colour(rng), colour(rng)];
    let blobs: Vec<([f32; 3], f32, f32, f32)> = (0..12)
        .map(|_| {
            (
                colour(rng),
                rng.f32() * width as f32,
                rng.f32() * height as f32,
                (0.05 + rng.f32() * 0.2) * width.min(height) as f32,
            )
        })
        .collect();
    let mut image = RgbImage::new(width, height);
    for (x, y, px) in image.enumerate_pixels_mut() {
        let (u, v) = (x as f32 / width as f32, y as f32 / height as f32);
        let mut c: [f32; 3] = std::array::from_fn(|i| {
            (corners[0][i] * (1.0 - u) + corners[1][i] * u) * (1.0 - v)
                + (corners[2][i] * (1.0 - u) + corners[3][i] * u) * v
        });
        for (blob, bx, by, r) in &blobs {
            let d2 = ((x as f32 - bx).powi(2) + (y as f32 - by).powi(2)) / (r * r);
            if d2 < 4.0 {
                let w = (-d2).exp() * 0.6;
                for i in 0..3 {
                    c[i] = c[i] * (1.0 - w) + blob[i] * w;
                }
            }
        }
        let grain = rng.f32() * 16.0 - 8.0;
        *px = Rgb(c.map(|v| (v + grain).clamp(0.0, 255.0) as u8));
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Source {
        Source {
            identity: "someone".into(),
            image: RgbImage::from_pixel(250, 250, Rgb([200, 150, 120])),
            face: BoundingBox::new(75.0, 70.0, 175.0, 190.0),
        }
    }

    #[test]
    fn faces_are_placed_inside_the_photo_at_the_drawn_sizes_without_overlap() {
        let layout = Layout {
            width: 2000,
            height: 1500,
            faces: 20,
            min_face: 20.0,
            max_face: 200.0,
        };
        let mut rng = fastrand::Rng::with_seed(3);
        let composite = compose(&mut rng, &[source()], &layout);
        assert_eq!(composite.image.dimensions(), (2000, 1500));
        assert!(
            composite.faces.len() >= 10,
            "{} faces",
            composite.faces.len()
        );
        for (i, a) in composite.faces.iter().enumerate() {
            let b = a.bbox;
            assert!(b.x1 >= 0.0 && b.y1 >= 0.0 && b.x2 <= 2000.0 && b.y2 <= 1500.0);
            assert!((19.0..=201.0).contains(&b.width()), "width {}", b.width());
            for other in &composite.faces[i + 1..] {
                assert!(b.iou(&other.bbox) < f32::EPSILON);
            }
        }
        // The same seed draws the same photo.
        let again = compose(&mut fastrand::Rng::with_seed(3), &[source()], &layout);
        assert_eq!(again.image, composite.image);
    }
}
