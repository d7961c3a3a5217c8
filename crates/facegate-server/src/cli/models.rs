//! `facegate models`: the manifest, the active pack and its licence.

use facegate_vision::manifest::{self, ManifestEntry};
use serde::Serialize;

use crate::cli::print_json;
use crate::settings::Settings;

#[derive(Debug, Serialize)]
struct FileStatus {
    file: String,
    pack: Option<String>,
    source: String,
    license: String,
    status: String,
}

#[derive(Debug, Serialize)]
struct Output {
    active_pack: &'static str,
    active_pack_license: &'static str,
    models_dir: String,
    files: Vec<FileStatus>,
}

pub fn run(settings: &Settings) -> anyhow::Result<()> {
    let dir = &settings.vision.models_dir;
    let status = |e: ManifestEntry| FileStatus {
        status: match manifest::verified_path(dir, &e) {
            Ok(_) => "ok".to_owned(),
            Err(err) => err.to_string(),
        },
        file: e.file,
        pack: e.pack,
        source: e.source,
        license: e.license,
    };
    let mut files = vec![status(manifest::runtime_entry())];
    files.extend(manifest::model_entries().into_iter().map(status));
    print_json(&Output {
        active_pack: settings.vision.pack.as_str(),
        active_pack_license: settings.vision.pack.licence(),
        models_dir: dir.display().to_string(),
        files,
    })
}
