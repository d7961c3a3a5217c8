//! The recognition backend's evaluation layout: a data folder with `genuine/` (pairs of
//! one person), `impostor/` (pairs of different people) and `liveness/live/` and
//! `liveness/spoof/`.
//!
//! In `genuine/` and `impostor/`, each subfolder gives every pair of the images it holds
//! (a folder per person gives all of that person's pairs), and images lying directly in
//! the folder pair up two by two in name order. Pairs get stratified folds
//! ([`stratify`]).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, ensure};

use super::pad::Sample;
use super::pairs::{Pair, stratify};

/// What a data folder holds, its paths relative to the folder.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FolderSet {
    pub pairs: Vec<Pair>,
    /// Live and spoof images from `liveness/`; empty without it.
    pub liveness: Vec<Sample>,
}

const IMAGE_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "heic", "avif"];

/// Reads the layout under `dir`.
pub fn read_folders(dir: &Path) -> anyhow::Result<FolderSet> {
    let genuine = class_pairs(dir, "genuine")?;
    let impostor = class_pairs(dir, "impostor")?;
    ensure!(
        !genuine.is_empty() && !impostor.is_empty(),
        "{} needs image pairs in both genuine/ and impostor/ ({} and {} found)",
        dir.display(),
        genuine.len(),
        impostor.len()
    );
    let mut pairs = Vec::with_capacity(genuine.len() + impostor.len());
    for (same, class) in [(true, genuine), (false, impostor)] {
        pairs.extend(class.into_iter().map(|(left, right)| Pair {
            left,
            right,
            same,
            fold: None,
        }));
    }
    stratify(&mut pairs);
    let mut liveness = Vec::new();
    for (live, name) in [(true, "live"), (false, "spoof")] {
        let sub = Path::new("liveness").join(name);
        for file in images_in(&dir.join(&sub))? {
            liveness.push(Sample {
                file: relative(&sub, &file),
                live,
                attack: None,
            });
        }
    }
    Ok(FolderSet { pairs, liveness })
}

/// The pairs of `dir/class`: every pair within each subfolder, then loose images two by two.
fn class_pairs(dir: &Path, class: &str) -> anyhow::Result<Vec<(String, String)>> {
    let root = dir.join(class);
    let mut pairs = Vec::new();
    for sub in subfolders(&root)? {
        let name = Path::new(class).join(sub.file_name().unwrap_or_default());
        let files: Vec<String> = images_in(&sub)?
            .iter()
            .map(|f| relative(&name, f))
            .collect();
        for (i, left) in files.iter().enumerate() {
            for right in &files[i + 1..] {
                pairs.push((left.clone(), right.clone()));
            }
        }
    }
    let loose: Vec<String> = images_in(&root)?
        .iter()
        .map(|f| relative(Path::new(class), f))
        .collect();
    pairs.extend(
        loose
            .chunks_exact(2)
            .map(|two| (two[0].clone(), two[1].clone())),
    );
    Ok(pairs)
}

/// `folder/file-name` as a string.
fn relative(folder: &Path, file: &Path) -> String {
    folder
        .join(file.file_name().unwrap_or_default())
        .to_string_lossy()
        .into_owned()
}

/// The entries of `dir` in name order; none when it does not exist.
fn entries(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut paths = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?;
    paths.sort();
    Ok(paths)
}

fn subfolders(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    Ok(entries(dir)?.into_iter().filter(|p| p.is_dir()).collect())
}

fn images_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    Ok(entries(dir)?
        .into_iter()
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, rel: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn the_layout_gives_labelled_pairs_in_stratified_folds_and_liveness_samples() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "genuine/ann/1.jpg",
            "genuine/ann/2.jpg",
            "genuine/ann/3.jpg",
        ] {
            touch(d, f);
        }
        for f in ["genuine/a1.png", "genuine/a2.png", "genuine/notes.txt"] {
            touch(d, f);
        }
        for f in ["impostor/p1/x.jpg", "impostor/p1/y.jpg", "impostor/q.jpg"] {
            touch(d, f);
        }
        touch(d, "liveness/live/me.jpg");
        touch(d, "liveness/spoof/print.jpg");
        let set = read_folders(d).unwrap();
        let listed: Vec<(&str, &str, bool, Option<usize>)> = set
            .pairs
            .iter()
            .map(|p| (p.left.as_str(), p.right.as_str(), p.same, p.fold))
            .collect();
        assert_eq!(
            listed,
            [
                ("genuine/ann/1.jpg", "genuine/ann/2.jpg", true, Some(0)),
                ("genuine/ann/1.jpg", "genuine/ann/3.jpg", true, Some(1)),
                ("genuine/ann/2.jpg", "genuine/ann/3.jpg", true, Some(0)),
                ("genuine/a1.png", "genuine/a2.png", true, Some(1)),
                // The odd loose image (q.jpg) has no partner and is left out.
                ("impostor/p1/x.jpg", "impostor/p1/y.jpg", false, Some(0)),
            ]
        );
        let samples: Vec<(&str, bool)> = set
            .liveness
            .iter()
            .map(|s| (s.file.as_str(), s.live))
            .collect();
        assert_eq!(
            samples,
            [
                ("liveness/live/me.jpg", true),
                ("liveness/spoof/print.jpg", false)
            ]
        );
    }

    #[test]
    fn a_folder_without_both_classes_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "genuine/ann/1.jpg");
        touch(dir.path(), "genuine/ann/2.jpg");
        let err = read_folders(dir.path()).unwrap_err().to_string();
        assert!(err.contains("impostor/"), "{err}");
    }
}
