//! The one typed settings struct: embedded defaults < optional TOML file <
//! `FACEGATE__*` environment variables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use facegate_cache::RedisOptions;
use facegate_core::Policy;
use facegate_core::account::Scope;
use facegate_core::enrollment_checks::EnrollmentChecks;
use facegate_http::HttpConfig;
use facegate_queue::KafkaSettings;
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
    /// Lowest threshold a request may ask for. `None` takes the model's threshold for a
    /// false-accept rate of 1e-2, so that no caller can lower it to list strangers.
    pub min_threshold: Option<f32>,
    /// Enrollment refuses faces whose quality (0..1) is below this.
    pub min_enroll_quality: f32,
    /// A 1:1 or 1:N answer is flagged `low_confidence` when a compared face (1:N: the probe)
    /// is turned at least this far: the nose tip's offset from the eye midpoint in half
    /// inter-ocular distances (0 frontal, 0.6 about 30-40 degrees of yaw, 1 about 45). Of 50
    /// cfp-dev people, every frontal photo stays below 0.2 and 47 profile photos reach 0.6
    /// (open pack landmarks).
    pub low_confidence_yaw_ratio: f32,
    /// Enrollment refuses images whose face fails the liveness check (`liveness_threshold`);
    /// off by default, since reference photos are often scans or ID pictures.
    pub enrollment_liveness: bool,
    /// A new reference whose face matches another subject (`duplicate_identity`) or none
    /// of its own subject's references (`reference_mismatch`), at `threshold`: `refuse`,
    /// `warn` (enrolled, with the warning in the answer) or `allow`.
    pub enrollment_checks: EnrollmentChecks,
    /// Passive liveness scores at or above this count as live. `None` takes the liveness
    /// model's calibrated threshold (docs/LIVENESS.md).
    pub liveness_threshold: Option<f32>,
    /// Largest `limit` of a search or identification.
    pub max_results: usize,
    /// Most photos one `POST /index/batch` may index.
    pub max_batch_photos: usize,
    /// Transactions above this amount need a fresh selfie that matches the user's face
    /// and passes the liveness check.
    #[serde(deserialize_with = "amount_text")]
    pub step_up_amount: String,
    /// The liveness threshold of step-up selfies; `None`: `liveness_threshold`.
    pub step_up_liveness_threshold: Option<f32>,
    /// User verification (HTTP and Kafka) rejects selfies that fail the liveness check.
    pub verification_liveness: bool,
    /// The liveness threshold of user verification; `None`: `liveness_threshold`.
    pub verification_liveness_threshold: Option<f32>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            threshold: None,
            search_threshold: None,
            min_threshold: None,
            min_enroll_quality: 0.2,
            low_confidence_yaw_ratio: 0.6,
            enrollment_liveness: false,
            enrollment_checks: EnrollmentChecks::default(),
            liveness_threshold: None,
            max_results: 1000,
            max_batch_photos: 100,
            step_up_amount: "1000.00".to_owned(),
            step_up_liveness_threshold: None,
            verification_liveness: true,
            verification_liveness_threshold: None,
        }
    }
}

/// Where the embedded default keeps its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// Folder of the embedded database and vector index.
    pub data_dir: PathBuf,
    /// Folder of the local object store (batch indexing reads photo keys from here),
    /// unless `object_store_url` names another store.
    pub blob_dir: PathBuf,
    /// `s3://bucket/prefix` (S3, MinIO), `gs://bucket/prefix` or `file:///folder`, for
    /// uploads, photos and batch keys; unset: `blob_dir`.
    pub object_store_url: Option<String>,
    /// `POST /index/batch` reads its keys under this prefix of the object store, so an
    /// `index` key cannot pull uploads, scan photos or crops into a searchable session;
    /// empty: the whole store.
    pub import_prefix: String,
    /// The store's options, e.g. `aws_endpoint`, `aws_region`, `aws_access_key_id`,
    /// `aws_secret_access_key`, `aws_allow_http` (see docs/OPERATIONS.md).
    pub object_store_options: BTreeMap<String, String>,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            blob_dir: PathBuf::from("data/blobs"),
            object_store_url: None,
            import_prefix: "imports".to_owned(),
            object_store_options: BTreeMap::new(),
        }
    }
}

impl StorageSettings {
    /// The configured object store URL; an empty value counts as unset.
    pub fn object_store_url(&self) -> Option<&str> {
        non_empty(self.object_store_url.as_deref())
    }
}

/// An optional text setting; blank (as a chart's empty default) counts as unset.
fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The production store: PostgreSQL with pgvector, instead of the embedded SQLite store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host:5432/database`; unset: the embedded store.
    pub url: Option<String>,
    pub url_file: Option<PathBuf>,
    /// Connections each replica opens at most.
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            max_connections: 10,
        }
    }
}

impl DatabaseSettings {
    /// The configured URL (inline or from its file); `None`: the embedded store.
    pub fn url(&self) -> anyhow::Result<Option<String>> {
        Ok(
            read_secret("database.url", self.url.as_ref(), self.url_file.as_ref())?
                .filter(|u| !u.is_empty()),
        )
    }
}

/// The shared cache: Redis for embeddings by image hash, session status and rate-limit
/// counters shared between replicas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// `redis://host:6379/0`; unset: no cache and in-process rate limits.
    pub redis_url: Option<String>,
    /// How long an image's embeddings stay cached.
    pub embedding_ttl_secs: u64,
    /// How long a session's status stays cached (writes to the session clear it).
    pub status_ttl_secs: u64,
    /// Put before every key, so that several deployments can share one Redis.
    pub key_prefix: String,
    /// For a `rediss://` URL: the CA file (PEM) that signed the server's certificate;
    /// unset: the system's roots.
    pub tls_ca_file: Option<PathBuf>,
    /// For a `rediss://` URL: a client certificate and its key (PEM files), where the
    /// server asks for one.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            redis_url: None,
            embedding_ttl_secs: 24 * 3600,
            status_ttl_secs: 300,
            key_prefix: "facegate:".to_owned(),
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}

impl CacheSettings {
    /// The connection options: the key prefix and the TLS files, read now.
    pub fn redis_options(&self) -> anyhow::Result<RedisOptions> {
        let read = |path: &PathBuf| {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        };
        let tls_client = match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            (None, None) => None,
            _ => anyhow::bail!("cache.tls_cert_file and cache.tls_key_file go together"),
        };
        Ok(RedisOptions {
            key_prefix: self.key_prefix.clone(),
            tls_ca: self.tls_ca_file.as_ref().map(read).transpose()?,
            tls_client,
            ..RedisOptions::default()
        })
    }

    pub fn redis_url(&self) -> Option<&str> {
        non_empty(self.redis_url.as_deref())
    }
}

/// An amount as text, also when the environment made it a number
/// (`FACEGATE__POLICY__STEP_UP_AMOUNT=500`).
fn amount_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Amount {
        Text(String),
        Integer(i64),
        Decimal(f64),
    }
    Ok(match Amount::deserialize(d)? {
        Amount::Text(s) => s,
        Amount::Integer(i) => i.to_string(),
        Amount::Decimal(f) => f.to_string(),
    })
}

/// A secret given inline or, better, as a file (`..._file`, e.g. a mounted secret).
fn read_secret(
    name: &str,
    value: Option<&String>,
    file: Option<&PathBuf>,
) -> anyhow::Result<Option<String>> {
    match (value, file) {
        (Some(_), Some(_)) => anyhow::bail!("set {name} or {name}_file, not both"),
        (Some(v), None) => Ok(Some(v.trim().to_owned())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim().to_owned()))
            .map_err(|e| anyhow::anyhow!("cannot read {name}_file {}: {e}", path.display())),
        (None, None) => Ok(None),
    }
}

/// What `config print` shows instead of a secret.
const REDACTED: &str = "<redacted>";
/// Shortest key `auth.static_api_keys` accepts.
const MIN_STATIC_KEY_CHARS: usize = 16;

/// Accounts and tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HMAC key of access tokens (at least 32 bytes). Unset: one is generated once and
    /// kept in `storage.data_dir`; several replicas must share one.
    pub jwt_secret: Option<String>,
    pub jwt_secret_file: Option<PathBuf>,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub min_password_length: usize,
    /// An API key with every scope, ensured at start. Unset, and with no admin key
    /// stored, one is generated and written to `storage.data_dir/admin-api-key`.
    pub admin_api_key: Option<String>,
    pub admin_api_key_file: Option<PathBuf>,
    /// An admin account ensured at start when its password is set.
    pub admin_username: String,
    pub admin_password: Option<String>,
    pub admin_password_file: Option<PathBuf>,
    /// API keys given here rather than made through the API (`API_KEYS` of a carried
    /// `.env`): checked in memory and never stored, so a key taken out of this list stops
    /// working at the next start. At least 16 characters each.
    pub static_api_keys: Vec<String>,
    /// The scopes of every key of `static_api_keys`.
    pub static_api_key_scopes: Vec<Scope>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_secret_file: None,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            min_password_length: 10,
            admin_api_key: None,
            admin_api_key_file: None,
            admin_username: "admin".to_owned(),
            admin_password: None,
            admin_password_file: None,
            static_api_keys: Vec::new(),
            static_api_key_scopes: vec![Scope::Index, Scope::Search, Scope::Verify],
        }
    }
}

impl AuthSettings {
    pub fn jwt_secret(&self) -> anyhow::Result<Option<String>> {
        read_secret(
            "auth.jwt_secret",
            self.jwt_secret.as_ref(),
            self.jwt_secret_file.as_ref(),
        )
    }

    pub fn admin_api_key(&self) -> anyhow::Result<Option<String>> {
        read_secret(
            "auth.admin_api_key",
            self.admin_api_key.as_ref(),
            self.admin_api_key_file.as_ref(),
        )
    }

    pub fn admin_password(&self) -> anyhow::Result<Option<String>> {
        read_secret(
            "auth.admin_password",
            self.admin_password.as_ref(),
            self.admin_password_file.as_ref(),
        )
    }
}

/// Encryption at rest of uploads, face crops and embeddings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Base64 of 32 random bytes (`openssl rand -base64 32`); unset: no encryption.
    pub encryption_key: Option<String>,
    pub encryption_key_file: Option<PathBuf>,
    /// Stored with every sealed record, so keys can rotate.
    pub encryption_key_id: String,
    /// Earlier keys by id, kept to read what they sealed.
    pub previous_encryption_keys: BTreeMap<String, String>,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            encryption_key: None,
            encryption_key_file: None,
            encryption_key_id: "k1".to_owned(),
            previous_encryption_keys: BTreeMap::new(),
        }
    }
}

impl SecuritySettings {
    pub fn encryption_key(&self) -> anyhow::Result<Option<String>> {
        read_secret(
            "security.encryption_key",
            self.encryption_key.as_ref(),
            self.encryption_key_file.as_ref(),
        )
    }
}

/// The in-process worker of asynchronous jobs (user verification).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Attempts before a job that keeps failing for transient reasons is given up.
    pub max_attempts: u32,
    /// First retry delay, doubled on each attempt.
    pub retry_base_ms: i64,
    /// A claimed job not finished within this is claimed again (the worker died).
    pub lease_ms: i64,
    /// Whether `serve` also runs the job and webhook workers (off when separate `facegate
    /// worker` replicas do).
    pub in_process: bool,
    /// The folder verification requests' `image_path` values are relative to (a volume
    /// shared with the uploader); unset: requests by path are refused.
    pub shared_volume: Option<PathBuf>,
    /// A user's verifications and scans queued or running at once, at most; more answer
    /// `429 rate_limited`, so one account cannot hold up everyone's jobs.
    pub max_pending_per_user: usize,
    /// Uploads in `uploads/verification/` and `scans/` that no pending job consumes are
    /// deleted once this old (left by a crash between storing and queueing, or a failed
    /// delete); the sweep runs at start and this often. Longer than `lease_ms`.
    pub upload_sweep_ms: i64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            retry_base_ms: 1000,
            lease_ms: 120_000,
            in_process: true,
            shared_volume: None,
            max_pending_per_user: 5,
            upload_sweep_ms: 3_600_000,
        }
    }
}

/// Liveness sessions: their lifetime, size, failure limit and the challenge's angles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LivenessSettings {
    /// How long a drawn session may be answered.
    pub session_lifetime_ms: i64,
    /// Frames one answer may hold, at most.
    pub max_frames: usize,
    /// Failed sessions per user, and per client address, in `failure_window_ms`;
    /// beyond it `429`.
    pub max_failures: u32,
    pub failure_window_ms: i64,
    /// How long after its answer a live session may stand in, once, for the selfie of
    /// `/auth/verify` or a step-up transaction (`liveness_session_id`).
    pub stand_in_ms: i64,
    /// A frame within this many degrees of straight ahead is frontal.
    pub frontal_degrees: f32,
    /// A head movement counts once it turns this far.
    pub turn_degrees: f32,
    /// Cosine a turned frame's face must reach against the first frame's. Frontal frames
    /// carry the identity at `policy.threshold`; a face turned up to profile matches its
    /// own frontal view weakly (0.16 for a cfp-dev profile), so this bar only tells
    /// another person apart.
    pub turned_match: f32,
}

impl Default for LivenessSettings {
    fn default() -> Self {
        Self {
            session_lifetime_ms: 60_000,
            max_frames: 30,
            max_failures: 5,
            failure_window_ms: 180_000,
            stand_in_ms: 120_000,
            frontal_degrees: 12.0,
            turn_degrees: 20.0,
            turned_match: 0.1,
        }
    }
}

/// Webhook deliveries: retries, the request timeout and the SSRF rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// First retry delay, doubled on each attempt.
    pub retry_base_ms: i64,
    /// A claimed delivery not settled within this is claimed again (the worker died);
    /// longer than `timeout_ms`.
    pub lease_ms: i64,
    /// Longest wait for a receiver's answer.
    pub timeout_ms: u64,
    /// Allow targets on loopback, private and link-local addresses (SSRF risk: only for
    /// tests or receivers inside a trusted network).
    pub allow_private_targets: bool,
    /// Deliveries sent at once, each to a different hook: a receiver that is slow to
    /// answer holds one of them.
    pub concurrency: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            retry_base_ms: 2000,
            lease_ms: 60_000,
            timeout_ms: 10_000,
            allow_private_targets: false,
            concurrency: 8,
        }
    }
}

impl WebhookSettings {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.max_attempts >= 1 && self.retry_base_ms >= 1 && self.timeout_ms >= 1,
            "webhooks: max_attempts, retry_base_ms and timeout_ms must be positive"
        );
        anyhow::ensure!(
            u64::try_from(self.lease_ms).is_ok_and(|lease| lease > self.timeout_ms),
            "webhooks.lease_ms must be longer than webhooks.timeout_ms"
        );
        anyhow::ensure!(
            (1..=256).contains(&self.concurrency),
            "webhooks.concurrency must be 1..=256"
        );
        Ok(())
    }
}

/// Traces exported over OTLP/HTTP (protobuf); without an endpoint nothing is exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// Base URL of an OTLP/HTTP collector, e.g. `http://jaeger:4318` (`/v1/traces` is
    /// appended). Unset or empty: no export.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the exported spans.
    pub service_name: String,
    /// Share of new traces kept (0..=1); a caller's `traceparent` decision is followed.
    pub sample_ratio: f64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "facegate".to_owned(),
            sample_ratio: 1.0,
        }
    }
}

impl TelemetrySettings {
    /// The configured endpoint; an empty value (as a chart's blank default) counts as unset.
    pub fn endpoint(&self) -> Option<&str> {
        self.otlp_endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.sample_ratio),
            "telemetry.sample_ratio must be in 0..=1"
        );
        anyhow::ensure!(
            !self.service_name.trim().is_empty(),
            "telemetry.service_name must not be empty"
        );
        if let Some(endpoint) = self.endpoint() {
            // The exporter is built without TLS: a collector sidecar or agent is local.
            anyhow::ensure!(
                endpoint.starts_with("http://"),
                "telemetry.otlp_endpoint must be an http:// URL (OTLP/HTTP, port 4318), got {endpoint}"
            );
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub vision: VisionConfig,
    pub http: HttpConfig,
    pub storage: StorageSettings,
    pub database: DatabaseSettings,
    pub cache: CacheSettings,
    /// Kafka: verification requests in, results out; unset: no Kafka.
    pub kafka: Option<KafkaSettings>,
    pub policy: PolicySettings,
    pub auth: AuthSettings,
    pub security: SecuritySettings,
    pub worker: WorkerSettings,
    pub webhooks: WebhookSettings,
    pub liveness: LivenessSettings,
    pub log: LogSettings,
    pub telemetry: TelemetrySettings,
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
        let carried = crate::carried_env::settings(&|name| std::env::var(name).ok())?;
        let settings: Settings = figment
            .merge(Serialized::defaults(carried))
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
        anyhow::ensure!(
            (8..=1000).contains(&v.group_photos.min_face) && v.group_photos.max_tiles >= 1,
            "vision.group_photos: min_face must be 8..=1000 pixels and max_tiles at least 1"
        );
        if let Some(model) = v.embedding {
            anyhow::ensure!(
                model.pack() == v.pack,
                "vision.embedding {model:?} belongs to the {} pack, not to {}",
                model.pack().as_str(),
                v.pack.as_str()
            );
        }
        if let Some(t) = v.detection_threshold {
            anyhow::ensure!(
                (0.0..1.0).contains(&t),
                "vision.detection_threshold must be in 0..1"
            );
        }
        self.validate_policy()?;
        self.validate_http()?;
        anyhow::ensure!(
            self.worker.max_pending_per_user >= 1,
            "worker.max_pending_per_user must be at least 1"
        );
        let a = &self.auth;
        anyhow::ensure!(
            a.access_token_ttl_secs >= 1 && a.refresh_token_ttl_secs >= a.access_token_ttl_secs,
            "auth: token lifetimes must be positive, the refresh token's at least the access token's"
        );
        anyhow::ensure!(
            a.min_password_length >= 8,
            "auth.min_password_length must be at least 8"
        );
        let w = &self.worker;
        anyhow::ensure!(
            w.max_attempts >= 1 && w.retry_base_ms >= 1 && w.lease_ms >= 1000,
            "worker: max_attempts and retry_base_ms must be positive, lease_ms at least 1000"
        );
        anyhow::ensure!(
            w.upload_sweep_ms > w.lease_ms,
            "worker.upload_sweep_ms must be longer than worker.lease_ms"
        );
        self.telemetry.validate()?;
        self.webhooks.validate()?;
        let l = &self.liveness;
        anyhow::ensure!(
            l.session_lifetime_ms >= 1000
                && (1..=100).contains(&l.max_frames)
                && l.max_failures >= 1
                && l.failure_window_ms >= 1000
                && l.stand_in_ms >= 1000
                && 0.0 < l.frontal_degrees
                && l.frontal_degrees < l.turn_degrees
                && (-1.0..=1.0).contains(&l.turned_match),
            "liveness: session_lifetime_ms, failure_window_ms and stand_in_ms at least 1000, max_frames \
             1..=100, max_failures at least 1, 0 < frontal_degrees < turn_degrees, turned_match \
             in -1..1"
        );
        // Secrets files must be readable now rather than at first use.
        anyhow::ensure!(
            a.static_api_keys
                .iter()
                .all(|k| k.chars().count() >= MIN_STATIC_KEY_CHARS)
                && !a.static_api_key_scopes.is_empty(),
            "auth.static_api_keys (API_KEYS) must be at least {MIN_STATIC_KEY_CHARS} characters each, \
             auth.static_api_key_scopes not empty"
        );
        a.jwt_secret()?;
        a.admin_api_key()?;
        a.admin_password()?;
        self.security.encryption_key()?;
        self.cache.redis_options()?;
        self.database.url()?;
        anyhow::ensure!(
            self.database.max_connections >= 1,
            "database.max_connections must be at least 1"
        );
        Ok(())
    }

    /// The decision thresholds, their floor and the policy's limits.
    fn validate_policy(&self) -> anyhow::Result<()> {
        for (name, value) in [
            ("policy.threshold", self.policy.threshold),
            ("policy.search_threshold", self.policy.search_threshold),
            ("policy.min_threshold", self.policy.min_threshold),
        ] {
            if let Some(t) = value {
                anyhow::ensure!((-1.0..=1.0).contains(&t), "{name} must be in -1..1");
            }
        }
        let policy = self.policy();
        anyhow::ensure!(
            policy.threshold >= policy.min_threshold
                && policy.search_threshold >= policy.min_threshold,
            "policy.threshold and policy.search_threshold must be at least policy.min_threshold ({})",
            policy.min_threshold
        );
        anyhow::ensure!(
            self.policy.max_results >= 1,
            "policy.max_results must be at least 1"
        );
        anyhow::ensure!(
            self.policy.max_batch_photos >= 1,
            "policy.max_batch_photos must be at least 1"
        );
        let p = &self.policy;
        anyhow::ensure!(
            [
                p.liveness_threshold,
                p.step_up_liveness_threshold,
                p.verification_liveness_threshold
            ]
            .into_iter()
            .flatten()
            .all(|t| (0.0..=1.0).contains(&t)),
            "policy: liveness thresholds must be in 0..1"
        );
        facegate_core::transactions::parse_amount(&self.policy.step_up_amount)
            .map_err(|e| anyhow::anyhow!("policy.step_up_amount: {e}"))?;
        Ok(())
    }

    /// Body limits and timeouts of the HTTP server.
    fn validate_http(&self) -> anyhow::Result<()> {
        let h = &self.http;
        anyhow::ensure!(
            h.body_limit_bytes >= self.vision.limits.max_bytes,
            "http.body_limit_bytes must be at least vision.limits.max_bytes"
        );
        anyhow::ensure!(
            h.max_body_bytes_in_flight >= h.body_limit_bytes,
            "http.max_body_bytes_in_flight must be at least http.body_limit_bytes"
        );
        anyhow::ensure!(
            h.json_body_limit_bytes >= 1024 && h.header_timeout_ms >= 1 && h.body_timeout_ms >= 1,
            "http: json_body_limit_bytes must be at least 1024, the timeouts positive"
        );
        Ok(())
    }

    /// The settings with every secret replaced, for printing.
    #[must_use]
    pub fn redacted(&self) -> Self {
        let mut s = self.clone();
        let hide = |v: &mut Option<String>| {
            if v.is_some() {
                *v = Some(REDACTED.to_owned());
            }
        };
        hide(&mut s.auth.jwt_secret);
        hide(&mut s.auth.admin_api_key);
        hide(&mut s.auth.admin_password);
        hide(&mut s.security.encryption_key);
        hide(&mut s.database.url);
        hide(&mut s.cache.redis_url);
        for key in &mut s.auth.static_api_keys {
            REDACTED.clone_into(key);
        }
        for (name, value) in &mut s.storage.object_store_options {
            if name.contains("secret") || name.contains("token") || name.contains("key") {
                REDACTED.clone_into(value);
            }
        }
        for key in s.security.previous_encryption_keys.values_mut() {
            REDACTED.clone_into(key);
        }
        s
    }

    /// The threshold for 1:1 decisions with the active model.
    fn threshold(&self) -> f32 {
        self.policy
            .threshold
            .unwrap_or_else(|| self.embedder().threshold(self.vision.flip_tta))
    }

    fn embedder(&self) -> EmbedderSpec {
        EmbedderSpec::for_model(self.vision.embedding_model())
    }

    /// The use-cases' policy, with the model's calibrated thresholds filled in.
    pub fn policy(&self) -> Policy {
        let p = &self.policy;
        Policy {
            threshold: self.threshold(),
            search_threshold: p
                .search_threshold
                .unwrap_or_else(|| self.embedder().search_threshold(self.vision.flip_tta)),
            min_threshold: p
                .min_threshold
                .unwrap_or_else(|| self.embedder().threshold_floor(self.vision.flip_tta)),
            min_enroll_quality: p.min_enroll_quality,
            enrollment_liveness: p.enrollment_liveness,
            enrollment_checks: p.enrollment_checks,
            liveness_threshold: self.liveness_threshold(None),
            low_confidence_yaw_ratio: p.low_confidence_yaw_ratio,
            max_results: p.max_results,
            max_batch_photos: p.max_batch_photos,
        }
    }

    /// The liveness threshold of an operation: its own setting, else
    /// `policy.liveness_threshold`, else the liveness model's calibrated one.
    pub fn liveness_threshold(&self, operation: Option<f32>) -> f32 {
        operation
            .or(self.policy.liveness_threshold)
            .unwrap_or(facegate_vision::liveness::THRESHOLD)
    }

    /// The step-up amount in cents (validated at load).
    pub fn step_up_above_cents(&self) -> i64 {
        facegate_core::transactions::parse_amount(&self.policy.step_up_amount).unwrap_or(0)
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

    #[test]
    fn secrets_come_from_files_and_are_redacted() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("jwt", "0123456789abcdef0123456789abcdef\n")?;
            jail.set_env("FACEGATE__AUTH__JWT_SECRET_FILE", "jwt");
            jail.set_env("FACEGATE__SECURITY__ENCRYPTION_KEY", "c2VjcmV0");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(
                s.auth.jwt_secret().unwrap().as_deref(),
                Some("0123456789abcdef0123456789abcdef")
            );
            let printed = toml::to_string(&s.redacted()).unwrap();
            assert!(!printed.contains("c2VjcmV0"), "{printed}");
            assert!(printed.contains(REDACTED), "{printed}");
            jail.set_env("FACEGATE__POLICY__STEP_UP_AMOUNT", "-5");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("step_up_amount"), "{err}");
            jail.set_env("FACEGATE__POLICY__STEP_UP_AMOUNT", "250");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.step_up_above_cents(), 25_000);
            jail.set_env("FACEGATE__AUTH__JWT_SECRET", "inline");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("not both"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn telemetry_is_off_unless_an_http_endpoint_is_set() {
        figment::Jail::expect_with(|jail| {
            // A chart's blank default is no endpoint, not an invalid one.
            jail.set_env("FACEGATE__TELEMETRY__OTLP_ENDPOINT", "");
            assert_eq!(Settings::load(None).unwrap().telemetry.endpoint(), None);
            jail.set_env("FACEGATE__TELEMETRY__OTLP_ENDPOINT", "http://jaeger:4318");
            let s = Settings::load(None).unwrap();
            assert_eq!(s.telemetry.endpoint(), Some("http://jaeger:4318"));
            jail.set_env("FACEGATE__TELEMETRY__SAMPLE_RATIO", "1.5");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("sample_ratio"), "{err}");
            jail.set_env("FACEGATE__TELEMETRY__SAMPLE_RATIO", "0.25");
            jail.set_env(
                "FACEGATE__TELEMETRY__OTLP_ENDPOINT",
                "https://collector:4318",
            );
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("http://"), "{err}");
            Ok(())
        });
    }
}
