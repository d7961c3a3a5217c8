//! Turning uploaded bytes into an upright RGB image, within limits.

use std::io::Cursor;

use facegate_core::FaceDetection;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

use crate::config::ImageLimits;
use crate::{VisionError, heif};

/// Checks an upload against `limits` from its header alone (size, format, completeness of
/// a JPEG, dimensions, a PNG's ICC profile), decoding no pixel: for uploads stored now and
/// decoded later.
pub fn check(bytes: &[u8], limits: &ImageLimits) -> Result<(), VisionError> {
    if heif::is_heif(bytes) {
        return check_heif(bytes, limits);
    }
    open(bytes, limits).map(|_| ())
}

/// Decodes JPEG, PNG, WebP, HEIC or AVIF bytes, applies the orientation and enforces
/// `limits`. Dimensions are checked from the header before any pixel is decoded, so a small
/// file that claims a huge image costs nothing.
pub fn decode(bytes: &[u8], limits: &ImageLimits) -> Result<RgbImage, VisionError> {
    Ok(decode_reduced(bytes, limits, 0)?.image)
}

/// An upload decoded at a reduced scale, and that scale (decoded side / original side).
#[derive(Debug)]
pub struct Scaled {
    pub image: RgbImage,
    pub scale: f32,
}

impl Scaled {
    /// A face found on the decoded image, in the original photo's pixels.
    pub fn original(&self, face: &FaceDetection) -> FaceDetection {
        face.mapped(1.0 / self.scale, 0.0, 0.0)
    }
}

/// [`decode`], except that a sequential JPEG whose longer side is at least twice
/// `min_side` is decoded at the smallest DCT scale (1/2, 1/4 or 1/8) that keeps its longer
/// side at least `min_side`: the inverse transforms and colour conversion of a 48 MP photo
/// shrink to a quarter or a sixteenth. Other uploads decode whole (scale 1); so does every
/// upload when `min_side` is 0.
pub fn decode_reduced(
    bytes: &[u8],
    limits: &ImageLimits,
    min_side: u32,
) -> Result<Scaled, VisionError> {
    if heif::is_heif(bytes) {
        check_heif(bytes, limits)?;
        return Ok(Scaled {
            image: heif::decode(bytes)?,
            scale: 1.0,
        });
    }
    let (mut decoder, format) = open(bytes, limits)?;
    let orientation = orientation(&mut decoder);
    let (width, height) = decoder.dimensions();
    let sequential_jpeg = format == ImageFormat::Jpeg && jpeg_is_sequential(bytes);
    let reduced = if sequential_jpeg && min_side > 0 && width.max(height) >= 2 * min_side {
        decode_jpeg_scaled(bytes, width, height, min_side)?
    } else {
        None
    };
    let mut image = match reduced {
        Some(image) => image,
        None if sequential_jpeg => DynamicImage::ImageRgb8(decode_sequential_jpeg(bytes)?),
        None => DynamicImage::from_decoder(decoder)
            .map_err(|e| VisionError::Undecodable(e.to_string()))?,
    };
    // Before the orientation turns it: the scale of the sides as stored.
    let scale = image.width() as f32 / width as f32;
    image.apply_orientation(orientation);
    Ok(Scaled {
        image: image.into_rgb8(),
        scale,
    })
}

/// The EXIF orientation a decoder read from the header; upright when there is none.
fn orientation(decoder: &mut impl ImageDecoder) -> image::metadata::Orientation {
    decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms)
}

/// A JPEG decoded at the smallest DCT scale whose longer side is at least `min_side`; `None`
/// for pixel formats other than 8-bit RGB and grey (CMYK), which decode whole.
fn decode_jpeg_scaled(
    bytes: &[u8],
    width: u32,
    height: u32,
    min_side: u32,
) -> Result<Option<DynamicImage>, VisionError> {
    let corrupt = |e: jpeg_decoder::Error| {
        VisionError::Undecodable(format!("the JPEG data is corrupt or truncated: {e}"))
    };
    let k = f64::from(min_side) / f64::from(width.max(height));
    let requested = |side: u32| (f64::from(side) * k).ceil().min(f64::from(u16::MAX)) as u16;
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    let (w, h) = decoder
        .scale(requested(width), requested(height))
        .map_err(corrupt)?;
    let pixels = decoder.decode().map_err(corrupt)?;
    let format = decoder.info().map(|i| i.pixel_format);
    let (w, h) = (u32::from(w), u32::from(h));
    Ok(match format {
        Some(jpeg_decoder::PixelFormat::RGB24) => {
            RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8)
        }
        Some(jpeg_decoder::PixelFormat::L8) => {
            image::GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8)
        }
        _ => None,
    })
}

/// Whether a JPEG is sequential (baseline or extended, `SOF0`/`SOF1`), not progressive:
/// its frame header, found by walking the segments from the start (so that an EXIF
/// thumbnail's frame inside `APP1` is skipped).
fn jpeg_is_sequential(bytes: &[u8]) -> bool {
    let mut at = 2; // after SOI
    while let Some(&[0xFF, marker, high, low]) = bytes.get(at..at + 4) {
        match marker {
            0xC0 | 0xC1 => return true,
            // The other frame types (progressive, lossless, arithmetic), or the scan.
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDA => return false,
            _ => at += 2 + usize::from(u16::from_be_bytes([high, low])),
        }
    }
    false
}

/// Decodes a sequential JPEG strictly, without its end-of-image marker: the decoder fills a
/// scan that ends early with grey as soon as it meets that marker, so a truncated file with
/// one appended would pass; without the marker it runs out of data and says so.
fn decode_sequential_jpeg(bytes: &[u8]) -> Result<RgbImage, VisionError> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let data = bytes.strip_suffix(&[0xFF, 0xD9]).unwrap_or(bytes);
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX)
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(data), options);
    let pixels = decoder.decode().map_err(|e| {
        VisionError::Undecodable(format!("the JPEG data is corrupt or truncated: {e:?}"))
    })?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| VisionError::Undecodable("the JPEG has no frame".into()))?;
    RgbImage::from_raw(width as u32, height as u32, pixels)
        .ok_or_else(|| VisionError::Undecodable("the JPEG decoded to the wrong size".into()))
}

/// The decoder of an upload whose header passed every check of [`check`], allowed to
/// allocate what its pixels need, and the upload's format.
fn open<'a>(
    bytes: &'a [u8],
    limits: &ImageLimits,
) -> Result<(impl ImageDecoder + 'a, ImageFormat), VisionError> {
    check_size(bytes, limits)?;
    let format = detect_format(bytes)?;
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(VisionError::Undecodable(
            "the JPEG data is truncated (no end-of-image marker after the last scan)".into(),
        ));
    }
    // No side limit in the decoders: it would fail before the header's dimensions are read,
    // and the error could not tell them. `check_dimensions` refuses an oversized image from
    // its header, before any pixel. What the header may inflate (a PNG's compressed ICC
    // profile) is capped by `METADATA_BUDGET`, then the pixels by the size they need.
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(allocation_limit(METADATA_BUDGET));
    let mut decoder = reader.into_decoder().map_err(|e| header_error(&e))?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    if format == ImageFormat::Png
        && png_has_icc_chunk(bytes)
        && decoder.icc_profile().ok().flatten().is_none()
    {
        return Err(VisionError::Undecodable(format!(
            "the PNG's ICC profile is corrupt or inflates past {METADATA_BUDGET} bytes"
        )));
    }
    decoder
        .set_limits(allocation_limit(pixel_budget(width, height)))
        .map_err(|e| header_error(&e))?;
    Ok((decoder, format))
}

/// A HEIC or AVIF upload's size and dimensions, from its container.
fn check_heif(bytes: &[u8], limits: &ImageLimits) -> Result<(), VisionError> {
    check_size(bytes, limits)?;
    let (width, height) = heif::dimensions(bytes)?;
    check_dimensions(width, height, limits)
}

fn check_size(bytes: &[u8], limits: &ImageLimits) -> Result<(), VisionError> {
    if bytes.is_empty() {
        return Err(VisionError::EmptyImage);
    }
    if bytes.len() > limits.max_bytes {
        return Err(VisionError::TooManyBytes {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    Ok(())
}

/// What a decoder may allocate while reading the header: ICC profiles are rarely over a few
/// hundred KiB, so a PNG whose compressed profile inflates beyond this is refused after
/// inflating at most this much.
const METADATA_BUDGET: u64 = 1024 * 1024;

/// What decoding `width` x `height` pixels may allocate: 16 bits per channel with alpha,
/// plus the header's budget.
fn pixel_budget(width: u32, height: u32) -> u64 {
    u64::from(width) * u64::from(height) * 8 + METADATA_BUDGET
}

fn allocation_limit(bytes: u64) -> image::Limits {
    let mut limits = image::Limits::no_limits();
    limits.max_alloc = Some(bytes);
    limits
}

/// Whether a PNG has an ICC profile chunk (`iCCP`) before its image data. The decoder
/// drops a profile it could not read (corrupt, or over the budget) without an error.
fn png_has_icc_chunk(bytes: &[u8]) -> bool {
    // After the 8-byte signature, each chunk is a 4-byte length, a 4-byte type, the data
    // and a 4-byte CRC.
    let mut at = 8;
    while let Some(header) = bytes.get(at..at + 8) {
        let (length, kind) = header.split_at(4);
        match kind {
            b"iCCP" => return true,
            b"IDAT" | b"IEND" => return false,
            _ => {}
        }
        let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]);
        at = at.saturating_add(12).saturating_add(length as usize);
    }
    false
}

fn detect_format(bytes: &[u8]) -> Result<ImageFormat, VisionError> {
    match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(f),
        Ok(other) => Err(VisionError::UnsupportedFormat {
            detected: other.extensions_str().first().copied(),
        }),
        Err(_) => Err(VisionError::UnsupportedFormat { detected: None }),
    }
}

/// The JPEG decoder fills a truncated scan with grey instead of failing, so check that an
/// end-of-image marker (FF D9) follows the last start-of-scan marker (FF DA). Inside
/// entropy-coded data every FF byte is stuffed, so neither marker can appear by accident.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let last_end = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]);
    matches!((last_scan, last_end), (Some(scan), Some(end)) if end > scan)
}

fn check_dimensions(width: u32, height: u32, limits: &ImageLimits) -> Result<(), VisionError> {
    if width > limits.max_side || height > limits.max_side {
        return Err(VisionError::TooManyPixels {
            width,
            height,
            limit: limits.max_side,
        });
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(VisionError::TooManyPixelsInAll {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    if width < limits.min_side || height < limits.min_side {
        return Err(VisionError::TooFewPixels {
            width,
            height,
            limit: limits.min_side,
        });
    }
    Ok(())
}

fn header_error(e: &image::ImageError) -> VisionError {
    match e {
        image::ImageError::Limits(_) => VisionError::Undecodable(
            "the image needs more memory to decode than allowed".to_owned(),
        ),
        other => VisionError::Undecodable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::png;
    use facegate_core::ErrorCode;

    fn code(bytes: &[u8]) -> ErrorCode {
        decode(bytes, &ImageLimits::default()).unwrap_err().code()
    }

    #[test]
    fn decodes_a_small_png() {
        let img = decode(&png(32, 20), &ImageLimits::default()).unwrap();
        assert_eq!(img.dimensions(), (32, 20));
    }

    #[test]
    fn refuses_bad_inputs_with_stable_codes() {
        assert_eq!(code(b""), ErrorCode::InvalidImage);
        assert_eq!(code(b"hello, this is text"), ErrorCode::UnsupportedFormat);
        assert_eq!(code(&png(1, 1)), ErrorCode::ImageTooSmall);
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert_eq!(code(gif), ErrorCode::UnsupportedFormat);
        // A HEIC container cut short after its file-type box.
        let heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00";
        assert_eq!(code(heic), ErrorCode::InvalidImage);
    }

    /// `heif-enc` (Debian's `libheif-examples`) encodes a dataset photo as HEIC and as AVIF;
    /// both decode to the photo's size and, within lossy coding, its colours.
    #[test]
    fn heic_and_avif_photos_decode_like_their_jpeg() {
        let Some(data) = crate::testing::datasets_dir() else {
            return;
        };
        let source = data.join("lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg");
        let jpeg = decode(&std::fs::read(&source).unwrap(), &ImageLimits::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for name in ["photo.heic", "photo.avif"] {
            let out = dir.path().join(name);
            let encoded = std::process::Command::new("heif-enc")
                .args(["-q", "80", "-o"])
                .arg(&out)
                .arg(&source)
                .output()
                .expect("heif-enc (Debian's libheif-examples) is installed by setup");
            assert!(encoded.status.success(), "{encoded:?}");
            let bytes = std::fs::read(&out).unwrap();
            check(&bytes, &ImageLimits::default()).unwrap();
            let image = decode(&bytes, &ImageLimits::default()).unwrap();
            assert_eq!(image.dimensions(), jpeg.dimensions(), "{name}");
            let mean = |img: &RgbImage| {
                img.pixels().map(|p| f64::from(p[1])).sum::<f64>()
                    / f64::from(img.width() * img.height())
            };
            assert!((mean(&image) - mean(&jpeg)).abs() < 3.0, "{name}");
        }
    }

    #[test]
    fn refuses_a_header_that_claims_a_huge_image_and_tells_its_size() {
        let bytes = crate::testing::png_claiming(20_000, 20_000);
        let error = decode(&bytes, &ImageLimits::default()).unwrap_err();
        assert_eq!(error.code(), ErrorCode::ImageTooLarge);
        assert!(error.to_string().contains("20000x20000"), "{error}");
        // Within each side's limit, beyond the pixel budget: both sizes told.
        let bytes = crate::testing::png_claiming(11_000, 8_000);
        let error = decode(&bytes, &ImageLimits::default()).unwrap_err();
        assert_eq!(error.code(), ErrorCode::ImageTooLarge);
        let message = error.to_string();
        assert!(message.contains("11000x8000 pixels (88.0 MP)"), "{message}");
        assert!(message.contains("at most 50.0 MP"), "{message}");
    }

    /// A 48 MP phone photo (8000x6000) is within the default limits; for the main face it
    /// decodes at a quarter of its sides, with the same content.
    #[test]
    fn a_48_megapixel_photo_decodes_whole_or_reduced() {
        let photo = image::RgbImage::from_fn(8000, 6000, |x, y| {
            image::Rgb([(x / 40 % 251) as u8, (y / 30 % 241) as u8, 128])
        });
        let bytes = crate::testing::jpeg(photo);
        let limits = ImageLimits::default();
        let started = std::time::Instant::now();
        let decoded = decode(&bytes, &limits).unwrap();
        let whole_ms = started.elapsed().as_secs_f64() * 1e3;
        assert_eq!(decoded.dimensions(), (8000, 6000));

        let started = std::time::Instant::now();
        let reduced = decode_reduced(&bytes, &limits, 1600).unwrap();
        let reduced_ms = started.elapsed().as_secs_f64() * 1e3;
        assert_eq!(reduced.image.dimensions(), (2000, 1500));
        assert!((reduced.scale - 0.25).abs() < f32::EPSILON);
        let shrunk =
            crate::imgproc::resize(&decoded, 2000, 1500, crate::imgproc::Interpolation::Area);
        let differ = shrunk
            .as_raw()
            .iter()
            .zip(reduced.image.as_raw())
            .filter(|(a, b)| a.abs_diff(**b) > 12)
            .count();
        assert!(
            differ * 100 < shrunk.as_raw().len(),
            "{differ} values differ"
        );
        eprintln!(
            "48 MP JPEG ({} bytes) decoded whole in {whole_ms:.0} ms, at 1/4 in {reduced_ms:.0} ms",
            bytes.len()
        );
        // Small enough already, or not a JPEG: decoded whole.
        assert!((decode_reduced(&bytes, &limits, 5000).unwrap().scale - 1.0).abs() < f32::EPSILON);
        let png = decode_reduced(&png(3000, 2000), &limits, 500).unwrap();
        assert_eq!(png.image.dimensions(), (3000, 2000));
        assert!((png.scale - 1.0).abs() < f32::EPSILON);
    }

    #[test]
    fn refuses_a_png_whose_icc_profile_inflates_past_the_budget() {
        let small = crate::testing::png_with_icc_profile(64 * 1024);
        assert!(decode(&small, &ImageLimits::default()).is_ok());
        let bomb = crate::testing::png_with_icc_profile(64 * 1024 * 1024);
        assert!(bomb.len() < 200 * 1024, "{} bytes", bomb.len());
        let error = decode(&bomb, &ImageLimits::default())
            .map(|_| ())
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidImage);
        assert!(error.to_string().contains("ICC profile"), "{error}");
    }

    #[test]
    fn refuses_too_many_bytes_before_decoding() {
        let limits = ImageLimits {
            max_bytes: 10,
            ..ImageLimits::default()
        };
        let err = decode(&png(16, 16), &limits).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ImageTooLarge);
    }

    #[test]
    fn a_truncated_jpeg_is_invalid() {
        let mut bytes = Vec::new();
        RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 90]))
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Jpeg)
            .unwrap();
        assert!(decode(&bytes, &ImageLimits::default()).is_ok());
        let err = decode(&bytes[..bytes.len() - 40], &ImageLimits::default()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidImage);
    }

    #[test]
    fn a_truncated_jpeg_with_an_end_marker_appended_is_invalid() {
        let mut bytes = Vec::new();
        RgbImage::from_fn(256, 256, |x, y| {
            image::Rgb([x as u8, y as u8, (x ^ y) as u8])
        })
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Jpeg)
        .unwrap();
        let whole = decode(&bytes, &ImageLimits::default()).unwrap();
        assert_eq!(whole.dimensions(), (256, 256));
        for kept in [0.5, 0.8, 0.95] {
            let mut cut = bytes[..(bytes.len() as f64 * kept) as usize].to_vec();
            cut.extend_from_slice(&[0xFF, 0xD9]);
            let error = decode(&cut, &ImageLimits::default())
                .map(|_| ())
                .unwrap_err();
            assert_eq!(error.code(), ErrorCode::InvalidImage, "{kept}: {error}");
        }
    }

    /// A progressive JPEG may need data past its last scan's end to finish: it keeps the
    /// lenient path (strict, without its end marker, this photo fails).
    #[test]
    fn a_progressive_jpeg_decodes() {
        let Some(datasets) = crate::testing::datasets_dir() else {
            return;
        };
        let path = "identities/face_recognition-examples/barack_obama/obama1.jpg";
        let bytes = std::fs::read(datasets.join(path)).unwrap();
        assert!(!jpeg_is_sequential(&bytes));
        assert!(decode(&bytes, &ImageLimits::default()).is_ok());
    }

    #[test]
    fn a_truncated_png_is_invalid() {
        let bytes = png(64, 64);
        let err = decode(&bytes[..bytes.len() / 2], &ImageLimits::default()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidImage);
    }
}
