//! Helpers shared by facegate-vision's integration tests: where the repository, the models
//! and the datasets are, and what their absence means.
//!
//! The models (installed by `scripts/setup.sh`) and the research datasets (in
//! `../shared/datasets`, never committed) are not in a fresh checkout, so tests that need
//! them skip with a message. With `FACEGATE_REQUIRE_MODELS=1` (set by CI) a missing folder
//! fails the test instead, so that a broken setup cannot pass silently.

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
    let files = std::iter::once(facegate_vision::manifest::runtime_entry())
        .chain(facegate_vision::manifest::model_entries())
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
