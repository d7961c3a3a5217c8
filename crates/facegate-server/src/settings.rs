//! The one typed settings struct: embedded defaults < optional TOML file <
//! `FACEGATE__*` environment variables.

use std::path::Path;

use std::path::PathBuf;

use facegate_core::Policy;
use facegate_http::HttpConfig;
use facegate_vision::VisionConfig;
use facegate_vision::embed::EmbedderSpec;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Json,
    Pretty,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `facegate=debug,info`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Json,
            level: "info".to_owned(),
        }
    }
}

/// Decision thresholds and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    /// Cosine similarity at or above which two faces are the same person (1:1 and 1:N).
    /// `None` takes the active model's threshold for a false-accept rate of 1e-3 on LFW.
    pub threshold: Option<f32>,
    /// Default threshold of photo-collection search. `None` takes the model's threshold
    /// for a false-accept rate of 1e-4: a selfie is compared with every face of a session.
    pub search_threshold: Option<f32>,
    /// Enrollment refuses faces whose quality (0..1) is below this.
    pub min_enroll_quality: f32,
    /// Liveness scores at or above this count as live.
    pub liveness_threshold: f32,
    /// Largest `limit` of a search or identification.
    pub max_results: usize,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            threshold: None,
            search_threshold: None,
            min_enroll_quality: 0.2,
            liveness_threshold: 0.5,
            max_results: 1000,
        }
    }
}

/// Where the embedded default keeps its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// Folder of the embedded database and vector index.
    pub data_dir: PathBuf,
    /// Folder of the local object store (batch indexing reads photo keys from here).
    pub blob_dir: PathBuf,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            blob_dir: PathBuf::from("data/blobs"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub vision: VisionConfig,
    pub http: HttpConfig,
    pub storage: StorageSettings,
    pub policy: PolicySettings,
    pub log: LogSettings,
}

impl Settings {
    /// Loads defaults, then `file` if given, then the environment, and validates.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            anyhow::ensure!(
                path.exists(),
                "configuration file {} does not exist",
                path.display()
            );
            figment = figment.merge(Toml::file(path));
        }
        let settings: Settings = figment
            .merge(Env::prefixed("FACEGATE__").split("__"))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let v = &self.vision;
        anyhow::ensure!(
            (1..=64).contains(&v.workers),
            "vision.workers must be 1..=64"
        );
        anyhow::ensure!(
            (1..=64).contains(&v.intra_threads),
            "vision.intra_threads must be 1..=64"
        );
        anyhow::ensure!(
            v.queue_capacity >= 1,
            "vision.queue_capacity must be at least 1"
        );
        anyhow::ensure!(
            v.limits.min_side >= 1 && v.limits.min_side <= v.limits.max_side,
            "vision.limits: min_side must be between 1 and max_side"
        );
        if let Some(t) = v.detection_threshold {
            anyhow::ensure!(
                (0.0..1.0).contains(&t),
                "vision.detection_threshold must be in 0..1"
            );
        }
        for (name, value) in [
            ("policy.threshold", self.policy.threshold),
            ("policy.search_threshold", self.policy.search_threshold),
        ] {
            if let Some(t) = value {
                anyhow::ensure!((-1.0..=1.0).contains(&t), "{name} must be in -1..1");
            }
        }
        anyhow::ensure!(
            self.policy.max_results >= 1,
            "policy.max_results must be at least 1"
        );
        anyhow::ensure!(
            self.http.body_limit_bytes >= self.vision.limits.max_bytes,
            "http.body_limit_bytes must be at least vision.limits.max_bytes"
        );
        Ok(())
    }

    /// The threshold for 1:1 decisions with the active model.
    pub fn threshold(&self) -> f32 {
        self.policy
            .threshold
            .unwrap_or_else(|| self.embedder().threshold(self.vision.flip_tta))
    }

    fn embedder(&self) -> EmbedderSpec {
        EmbedderSpec::for_pack(self.vision.pack)
    }

    /// The use-cases' policy, with the model's calibrated thresholds filled in.
    pub fn policy(&self) -> Policy {
        let p = &self.policy;
        Policy {
            threshold: self.threshold(),
            search_threshold: p
                .search_threshold
                .unwrap_or_else(|| self.embedder().search_threshold(self.vision.flip_tta)),
            min_enroll_quality: p.min_enroll_quality,
            liveness_threshold: p.liveness_threshold,
            max_results: p.max_results,
        }
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail's closures must return figment::Error"
)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_defaults_and_is_validated() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FACEGATE__VISION__PACK", "open");
            jail.set_env("FACEGATE__VISION__FLIP_TTA", "false");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.vision.pack, facegate_vision::Pack::Open);
            assert!(!s.vision.flip_tta);
            jail.set_env("FACEGATE__VISION__WORKERS", "0");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("workers"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_file_sits_between_defaults_and_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("f.toml", "[vision]\nworkers = 3\nmain_face = \"largest\"\n")?;
            jail.set_env("FACEGATE__VISION__WORKERS", "4");
            let s = Settings::load(Some(Path::new("f.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.vision.workers, 4);
            assert_eq!(s.vision.main_face, facegate_vision::MainFace::Largest);
            let err = Settings::load(Some(Path::new("missing.toml"))).unwrap_err();
            assert!(err.to_string().contains("does not exist"));
            Ok(())
        });
    }
}
