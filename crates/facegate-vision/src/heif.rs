//! HEIC (iPhone camera photos) and AVIF through the system's libheif: the primary image,
//! with the rotation, mirroring and crop its container asks for (`irot`, `imir`, `clap`)
//! applied by libheif, which is how those files carry their orientation.

use image::RgbImage;
use libheif_rs::{ColorSpace, HeifContext, ImageHandle, LibHeif, RgbChroma};

use crate::VisionError;

/// Whether the bytes start with an `ftyp` box naming a HEIF or AVIF brand.
pub fn is_heif(bytes: &[u8]) -> bool {
    bytes.len() >= 12
        && &bytes[4..8] == b"ftyp"
        && matches!(
            &bytes[8..12],
            b"heic"
                | b"heix"
                | b"hevc"
                | b"hevx"
                | b"heim"
                | b"heis"
                | b"mif1"
                | b"msf1"
                | b"avif"
                | b"avis"
        )
}

/// The primary image's displayed size (after rotation), read from the container alone.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), VisionError> {
    let context = HeifContext::read_from_bytes(bytes).map_err(undecodable)?;
    let handle = context.primary_image_handle().map_err(undecodable)?;
    Ok((handle.width(), handle.height()))
}

/// Decodes the primary image to RGB, upright.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, VisionError> {
    let context = HeifContext::read_from_bytes(bytes).map_err(undecodable)?;
    let handle = context.primary_image_handle().map_err(undecodable)?;
    to_rgb(&handle)
}

fn to_rgb(handle: &ImageHandle) -> Result<RgbImage, VisionError> {
    let image = LibHeif::new()
        .decode(handle, ColorSpace::Rgb(RgbChroma::Rgb), None)
        .map_err(undecodable)?;
    let planes = image.planes();
    let plane = planes
        .interleaved
        .ok_or_else(|| VisionError::Undecodable("the HEIF image has no RGB plane".into()))?;
    let row = plane.width as usize * 3;
    let mut pixels = Vec::with_capacity(row * plane.height as usize);
    for y in 0..plane.height as usize {
        let start = y * plane.stride;
        let line = plane
            .data
            .get(start..start + row)
            .ok_or_else(|| VisionError::Undecodable("the HEIF image is cut short".into()))?;
        pixels.extend_from_slice(line);
    }
    RgbImage::from_raw(plane.width, plane.height, pixels)
        .ok_or_else(|| VisionError::Undecodable("the HEIF image decoded to the wrong size".into()))
}

fn undecodable(e: libheif_rs::HeifError) -> VisionError {
    let message = e.message;
    VisionError::Undecodable(format!("the HEIF/AVIF file cannot be read: {message}"))
}
