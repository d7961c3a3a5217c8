//! Helpers for tests across the workspace: where the models and datasets are, and forged
//! inputs. Compiled only for tests and with the `testing` feature.

use std::io::Cursor;
use std::path::PathBuf;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether missing models or datasets fail tests (CI) instead of skipping them.
fn required() -> bool {
    std::env::var("FACEGATE_REQUIRE_MODELS").is_ok_and(|v| v == "1")
}

fn present(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(
        !required(),
        "{what} missing at {} and FACEGATE_REQUIRE_MODELS=1",
        path.display()
    );
    eprintln!(
        "skipping: {what} missing at {} (run scripts/setup.sh)",
        path.display()
    );
    None
}

/// The installed models folder, or `None` (test skipped) when setup has not run.
pub fn models_dir() -> Option<PathBuf> {
    let dir = repo_root().join("models");
    present(dir.join("runtime"), "models").map(|_| dir)
}

/// The shared datasets folder (`../shared/datasets`), or `None` when absent.
pub fn datasets_dir() -> Option<PathBuf> {
    present(repo_root().join("../shared/datasets"), "datasets")
}

/// A valid PNG whose header claims `width` x `height` pixels but holds 16x16.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbImage::new(16, 16)
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .expect("encoding a PNG in memory");
    // IHDR's width and height are bytes 16..24; its CRC covers bytes 12..29.
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
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
