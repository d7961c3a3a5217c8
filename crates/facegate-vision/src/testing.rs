//! Helpers for tests across the workspace (compiled for tests and with the `testing`
//! feature): where the repository, the models and the datasets are, what their absence
//! means, and forged inputs.
//!
//! The models (installed by `scripts/setup.sh`) and the research datasets (in
//! `../shared/datasets`, never committed) are not in a fresh checkout, so tests that need
//! them skip with a message. With `FACEGATE_REQUIRE_MODELS=1` (set by CI) a missing folder
//! fails the test instead, so that a broken setup cannot pass silently.

use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Environment variable that turns a skip for missing models or datasets into a failure.
pub const REQUIRE_ENV: &str = "FACEGATE_REQUIRE_MODELS";

/// The workspace root.
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Whether missing models or datasets must fail the test rather than skip it.
pub fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v.trim() == "1")
}

/// The models folder, when the runtime library and every model of the manifest are there.
/// Digests are checked later, when the pipeline opens them.
pub fn models_dir() -> Option<PathBuf> {
    let dir = repo_root().join("models");
    let files = std::iter::once(crate::manifest::runtime_entry())
        .chain(crate::manifest::model_entries())
        .map(|e| e.file);
    let missing: Vec<String> = files.filter(|f| !dir.join(f).is_file()).collect();
    if missing.is_empty() {
        return Some(dir);
    }
    unavailable(&format!(
        "models missing under {} ({}); run scripts/setup.sh",
        dir.display(),
        missing.join(", ")
    ))
}

/// The shared research datasets (`<repo>/../shared/datasets`), when present.
pub fn datasets_dir() -> Option<PathBuf> {
    let dir = repo_root().join("../shared/datasets");
    if dir.is_dir() {
        return Some(dir.canonicalize().unwrap_or(dir));
    }
    unavailable(&format!("datasets folder {} is missing", dir.display()))
}

/// Skips (prints and returns `None`) or, with [`REQUIRE_ENV`]` = 1`, panics.
fn unavailable(reason: &str) -> Option<PathBuf> {
    assert!(!required(), "{reason} and {REQUIRE_ENV}=1 is set");
    eprintln!("skipping: {reason} (set {REQUIRE_ENV}=1 to make this a failure)");
    None
}

/// A black PNG of `width` x `height` pixels.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbImage::new(width, height)
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .expect("encoding a PNG in memory");
    bytes
}

/// `image` encoded as a JPEG.
pub fn jpeg(image: impl Into<image::DynamicImage>) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .into()
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Jpeg)
        .expect("encoding a JPEG in memory");
    bytes
}

/// A valid PNG whose header claims `width` x `height` pixels but holds 16x16.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(16, 16);
    // IHDR's width and height are bytes 16..24; its CRC covers bytes 12..29.
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// A 64x64 PNG with an ICC profile chunk (`iCCP`) that inflates to `inflated` bytes of
/// zeros: a compression bomb in the header when `inflated` is large.
pub fn png_with_icc_profile(inflated: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    let mut left = inflated;
    while left > 0 {
        let n = left.min(zeros.len());
        zlib.write_all(&zeros[..n]).expect("compressing in memory");
        left -= n;
    }
    let profile = zlib.finish().expect("compressing in memory");
    let mut chunk = b"iCCP".to_vec();
    chunk.extend_from_slice(b"icc\0\0"); // the profile's name, then compression method 0
    chunk.extend_from_slice(&profile);
    let length = u32::try_from(chunk.len() - 4).expect("a chunk under 4 GiB");
    let mut bytes = png(64, 64);
    // The IHDR chunk ends at byte 33: the signature (8), then length, type, 13 bytes, CRC.
    let rest = bytes.split_off(33);
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(&chunk);
    bytes.extend_from_slice(&crc32(&chunk).to_be_bytes());
    bytes.extend_from_slice(&rest);
    bytes
}

/// PNG's CRC-32 (reflected, polynomial 0xEDB88320).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
