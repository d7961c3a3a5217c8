//! Face detectors and the rules applied to their output.

pub mod mtcnn;
pub mod nms;
pub mod onet;
pub mod rfb;
pub mod scrfd;
pub mod tiled;
pub mod turned;

use facegate_core::{FaceDetection, Point};
use image::RgbImage;

use crate::VisionError;
use crate::config::MainFace;
use crate::imgproc;

/// Finds every face in an image, with five landmarks each.
pub trait Detector: Send {
    /// `input` is the side of the square network input, for detectors that take any size.
    fn detect(&mut self, image: &RgbImage, input: u32) -> Result<Vec<FaceDetection>, VisionError>;

    /// Width and height of the network input that [`Detector::detect`] resizes to for a
    /// requested `input` side.
    fn input_dims(&self, input: u32) -> (u32, u32);

    /// Of faces found on parts of `image` (tiles) and not on the whole of it, those the
    /// detector's own second check confirms; all of them by default.
    fn confirm(
        &mut self,
        _image: &RgbImage,
        faces: Vec<FaceDetection>,
    ) -> Result<Vec<FaceDetection>, VisionError> {
        Ok(faces)
    }

    /// A second detector for images where [`Detector::detect`] found nothing, also on the
    /// padded copy; none by default.
    fn fallback(&mut self, _image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        Ok(Vec::new())
    }
}

/// Longest side of the image a detector's fallback searches: bounds the MTCNN cascade's
/// pyramid on a large photo (a main face larger than 1/60 of it is still seen).
const FALLBACK_SIDE: u32 = 1280;

/// Runs `detector`, and when it finds nothing, once more on a copy (no larger than the
/// input) padded with a black border of half its longer side (detectors trained on whole
/// scenes miss faces that fill the frame), then its fallback on a copy no larger than
/// [`FALLBACK_SIDE`]. Coordinates are mapped back to the original image.
pub fn detect_with_pad_retry(
    detector: &mut dyn Detector,
    image: &RgbImage,
    input: u32,
) -> Result<Vec<FaceDetection>, VisionError> {
    let faces = detector.detect(image, input)?;
    if !faces.is_empty() {
        return Ok(faces);
    }
    pad_retry(detector, image, input)
}

/// What [`detect_with_pad_retry`] runs after a pass over `image` found nothing: the padded
/// copy, then the detector's fallback.
pub fn pad_retry(
    detector: &mut dyn Detector,
    image: &RgbImage,
    input: u32,
) -> Result<Vec<FaceDetection>, VisionError> {
    // The padded copy is shrunk to the input by the detector anyway: pad a copy no larger
    // than the input, not a 24 MP photo grown to 120 MP.
    let (w, h) = detector.input_dims(input);
    let (small, grow) = imgproc::fit_within(image, w.max(h));
    let pad = small.width().max(small.height()) / 2;
    let padded = imgproc::pad(&small, pad);
    let grow = grow as f32;
    let shift = -(pad as f32) * grow;
    let faces: Vec<FaceDetection> = detector
        .detect(&padded, input)?
        .into_iter()
        .map(|f| f.mapped(grow, shift, shift))
        .collect();
    if !faces.is_empty() {
        return Ok(faces);
    }
    let (bounded, grow) = imgproc::fit_within(image, FALLBACK_SIDE);
    let grow = grow as f32;
    Ok(detector
        .fallback(&bounded)?
        .into_iter()
        .map(|f| f.mapped(grow, 0.0, 0.0))
        .collect())
}

/// Orders faces so that the main face comes first, by `rule`.
pub fn rank_faces(faces: &mut [FaceDetection], width: u32, height: u32, rule: MainFace) {
    let centre = Point::new(width as f32 / 2.0, height as f32 / 2.0);
    let key = |f: &FaceDetection| -> f32 {
        match rule {
            MainFace::Largest => f.bbox.area(),
            MainFace::Centered => {
                let c = f.bbox.center();
                let d2 = (c.x - centre.x).powi(2) + (c.y - centre.y).powi(2);
                f.bbox.area() - 2.0 * d2
            }
        }
    };
    faces.sort_by(|a, b| key(b).total_cmp(&key(a)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use facegate_core::{BoundingBox, Landmarks5};

    fn face(x1: f32, y1: f32, size: f32) -> FaceDetection {
        FaceDetection {
            bbox: BoundingBox::new(x1, y1, x1 + size, y1 + size),
            score: 0.9,
            landmarks: Landmarks5::default(),
        }
    }

    /// Finds one face covering whatever is not black, but only on an image with a black
    /// border (a padded copy); notes the size of every image it is given.
    #[derive(Default)]
    struct FindsOnPadded {
        seen: Vec<(u32, u32)>,
    }

    impl Detector for FindsOnPadded {
        fn detect(&mut self, image: &RgbImage, _: u32) -> Result<Vec<FaceDetection>, VisionError> {
            self.seen.push(image.dimensions());
            if image.get_pixel(0, 0).0 != [0, 0, 0] {
                return Ok(Vec::new());
            }
            let lit = || {
                image
                    .enumerate_pixels()
                    .filter(|(_, _, p)| p.0 != [0, 0, 0])
            };
            let (xs, ys) = (lit().map(|(x, ..)| x), lit().map(|(_, y, _)| y));
            let (x1, x2) = (xs.clone().min().unwrap(), xs.max().unwrap() + 1);
            let (y1, y2) = (ys.clone().min().unwrap(), ys.max().unwrap() + 1);
            Ok(vec![FaceDetection {
                bbox: BoundingBox::new(x1 as f32, y1 as f32, x2 as f32, y2 as f32),
                score: 0.9,
                landmarks: Landmarks5::default(),
            }])
        }

        fn input_dims(&self, input: u32) -> (u32, u32) {
            (input, input)
        }
    }

    #[test]
    fn the_padded_retry_of_a_large_photo_pads_a_small_copy_and_answers_in_its_pixels() {
        let photo = RgbImage::from_pixel(4000, 3000, image::Rgb([200, 180, 160]));
        let mut detector = FindsOnPadded::default();
        let faces = detect_with_pad_retry(&mut detector, &photo, 640).unwrap();
        // The photo itself, then a 640x480 copy padded by 320 px, not the photo padded by
        // 2000 px (8000x7000).
        assert_eq!(detector.seen, [(4000, 3000), (1280, 1120)]);
        assert_eq!(faces.len(), 1);
        let b = faces[0].bbox;
        for (got, want) in [(b.x1, 0.0), (b.y1, 0.0), (b.x2, 4000.0), (b.y2, 3000.0)] {
            assert!((got - want).abs() < 1.0, "{b:?}");
        }
    }

    #[test]
    fn ranking_rules_differ_on_a_large_bystander() {
        // A 60 px face in the centre and a 70 px one in the corner of a 400x400 image.
        let mut faces = vec![face(0.0, 0.0, 70.0), face(170.0, 170.0, 60.0)];
        rank_faces(&mut faces, 400, 400, MainFace::Largest);
        assert!((faces[0].bbox.x1).abs() < f32::EPSILON);
        rank_faces(&mut faces, 400, 400, MainFace::Centered);
        assert!((faces[0].bbox.x1 - 170.0).abs() < f32::EPSILON);
    }
}
