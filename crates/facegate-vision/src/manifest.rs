//! The committed manifest of model files and their SHA-256 digests.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::VisionError;

const MANIFEST: &str = include_str!("../../../models/manifest.toml");

/// One file of the manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestEntry {
    pub file: String,
    #[serde(default)]
    pub pack: Option<String>,
    pub source: String,
    pub license: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Manifest {
    runtime: ManifestEntry,
    model: Vec<ManifestEntry>,
}

fn manifest() -> Manifest {
    toml::from_str(MANIFEST).expect("models/manifest.toml is valid (checked by tests)")
}

/// The ONNX Runtime library entry.
pub fn runtime_entry() -> ManifestEntry {
    manifest().runtime
}

/// All model entries.
pub fn model_entries() -> Vec<ManifestEntry> {
    manifest().model
}

/// Looks a model up by its path relative to the models folder.
pub fn entry(file: &str) -> Option<ManifestEntry> {
    manifest().model.into_iter().find(|e| e.file == file)
}

/// Checks that `entry`'s file exists under `dir` with the manifest's digest and returns
/// its full path.
pub fn verified_path(dir: &Path, entry: &ManifestEntry) -> Result<PathBuf, VisionError> {
    let path = dir.join(&entry.file);
    let missing = |reason: String| VisionError::ModelMissing {
        file: path.display().to_string(),
        reason,
    };
    let mut file = std::fs::File::open(&path).map_err(|e| missing(e.to_string()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| missing(e.to_string()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = hex::encode(hasher.finalize());
    if digest != entry.sha256 {
        return Err(missing(format!(
            "SHA-256 is {digest}, the manifest expects {}",
            entry.sha256
        )));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_parses_and_names_every_pack() {
        let m = manifest();
        assert_eq!(m.runtime.sha256.len(), 64);
        for pack in ["insightface", "open", "analysis"] {
            assert!(
                m.model.iter().any(|e| e.pack.as_deref() == Some(pack)),
                "no model for pack {pack}"
            );
        }
        assert!(m.model.iter().all(|e| e.sha256.len() == 64));
    }

    #[test]
    fn a_changed_file_is_refused_with_its_name() {
        let dir = std::env::temp_dir().join(format!("facegate-manifest-{}", std::process::id()));
        let entry = entry("open/fr_feature.onnx").unwrap();
        std::fs::create_dir_all(dir.join("open")).unwrap();
        std::fs::write(dir.join(&entry.file), b"not a model").unwrap();
        let err = verified_path(&dir, &entry).unwrap_err().to_string();
        assert!(
            err.contains("fr_feature.onnx") && err.contains("SHA-256"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let err = verified_path(&dir, &entry).unwrap_err().to_string();
        assert!(err.contains("setup"), "{err}");
    }
}
