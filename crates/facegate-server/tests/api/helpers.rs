//! Shared setup: the real app on port 0 with its own data folder, an HTTP client, LFW
//! photos and assertions on the error body.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use facegate_server::app;
use facegate_server::settings::Settings;
use facegate_vision::testing::{datasets_dir, models_dir};
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::services::{self, s3_options};

/// What the API tests need from outside the repository: the models and LFW.
#[derive(Debug)]
pub struct Fixtures {
    pub models: PathBuf,
    pub lfw: Lfw,
}

impl Fixtures {
    /// `None` (the test skips) when the models or datasets are missing, unless
    /// `FACEGATE_REQUIRE_MODELS=1`.
    pub fn get() -> Option<Self> {
        let models = models_dir()?;
        let lfw = datasets_dir()?.join("lfw");
        assert!(lfw.is_dir(), "LFW is missing at {}", lfw.display());
        Some(Self {
            models,
            lfw: Lfw(lfw),
        })
    }
}

/// A folder that lives as long as the test; unique per test.
pub fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("facegate-api-")
        .tempdir()
        .expect("creating a temporary folder")
}

/// The admin API key every test app is started with; `TestApp::client` sends it.
pub const ADMIN_KEY: &str = "fgk_test-admin-key-0123456789abcdefghijklmnop";

/// Settings for a test: the real models, one inference worker, data under `dir`, a known
/// admin key, indexing limits that the bulk tests do not reach, and user verification
/// without its liveness check: LFW photos are photographs of prints and screens, which
/// the liveness model rightly scores as not live (the liveness test turns it on).
///
/// With `FACEGATE_TEST_BACKEND=production` the same test runs on the production path
/// instead: a fresh PostgreSQL database, Redis (keys under a prefix of the test's own),
/// a fresh bucket of the S3 server and Kafka, from the `FACEGATE_TEST_*` variables that
/// `scripts/test-services.sh start` prints.
pub fn settings(models: &Path, dir: &Path) -> Settings {
    let mut s = embedded_settings(models, dir);
    if production() {
        production_backends(&mut s);
    }
    s
}

/// [`settings`] on the embedded store, whatever the backend of the run (for behaviours
/// only the embedded store has: encryption of embeddings at rest).
pub fn embedded_settings(models: &Path, dir: &Path) -> Settings {
    let mut s = Settings::default();
    s.vision.models_dir = models.to_path_buf();
    s.vision.workers = 1;
    s.storage.data_dir = dir.join("data");
    s.storage.blob_dir = dir.join("blobs");
    s.auth.admin_api_key = Some(ADMIN_KEY.to_owned());
    s.http.rate_limits.index_per_key_per_minute = 100_000;
    s.policy.verification_liveness = false;
    s
}

/// Whether this run tests the production backends.
pub fn production() -> bool {
    std::env::var("FACEGATE_TEST_BACKEND").as_deref() == Ok("production")
}

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("FACEGATE_TEST_BACKEND=production needs {name} (scripts/test-services.sh start)")
    })
}

fn production_backends(s: &mut Settings) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    s.database.url = Some(create_database(
        &required("FACEGATE_TEST_DATABASE_URL"),
        &id,
    ));
    s.cache.redis_url = Some(required("FACEGATE_TEST_REDIS_URL"));
    s.cache.key_prefix = format!("test-{id}:");
    let bucket = format!("test-{id}");
    std::fs::create_dir_all(Path::new(&required("FACEGATE_TEST_S3_ROOT")).join(&bucket))
        .expect("creating the test bucket");
    s.storage.object_store_url = Some(format!("s3://{bucket}"));
    s.storage.object_store_options = s3_options(&required("FACEGATE_TEST_S3_ENDPOINT"))
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let kafka = facegate_queue::KafkaSettings {
        brokers: required("FACEGATE_TEST_KAFKA_BROKERS"),
        ..facegate_queue::KafkaSettings::default()
    };
    let topics = kafka.clone();
    on_own_runtime(async move {
        facegate_queue::ensure_topics(&topics, 1, 1)
            .await
            .expect("creating the Kafka topics");
    });
    s.kafka = Some(kafka);
}

/// Runs `future` to its end on a runtime of its own thread (the settings are built
/// synchronously, inside the tests' runtime).
fn on_own_runtime<F: Future + Send + 'static>(future: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    })
    .join()
    .expect("the setup thread panicked")
}

/// A new database on the test server; its URL.
fn create_database(server: &str, id: &str) -> String {
    let server = server.to_owned();
    let name = format!("api_{id}");
    on_own_runtime(async move { services::create_database(&server, &name).await })
}

/// Waits, when needed, for the next minute-long rate-limit window (they start on whole
/// minutes of Unix time), so that `seconds` of requests all count in one window.
pub async fn within_one_rate_window(seconds: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into_window = Duration::from_millis(u64::try_from(now.as_millis() % 60_000).unwrap());
    let left = Duration::from_mins(1).saturating_sub(into_window);
    if left < Duration::from_secs(seconds) {
        tokio::time::sleep(left + Duration::from_millis(50)).await;
    }
}

/// Waits up to 10 s for `done` to hold (work the app finishes after it answers).
pub async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done(), "{what}");
}

/// The folder on disk the app's object store keeps `key`s in: the local blob folder,
/// or the test S3 server's folder of the bucket.
pub fn blob_dir(settings: &Settings) -> PathBuf {
    match settings.storage.object_store_url.as_deref() {
        Some(url) => {
            Path::new(&required("FACEGATE_TEST_S3_ROOT")).join(url.trim_start_matches("s3://"))
        }
        None => settings.storage.blob_dir.clone(),
    }
}

fn client_builder() -> reqwest::ClientBuilder {
    // reqwest is built with TLS but no crypto provider of its own (see facegate-notify).
    facegate_notify::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_mins(2))
}

/// A client that sends no credentials unless told to.
pub fn bare_client() -> reqwest::Client {
    client_builder().build().unwrap()
}

/// The app built by `app::build`, served on `127.0.0.1:0`.
#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    /// Sends the admin API key with every request.
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl TestApp {
    pub async fn spawn(settings: &Settings) -> Self {
        let app = app::build(settings).await.expect("building the app");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding port 0");
        let address = listener.local_addr().unwrap();
        let (shutdown, signal) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.serve(listener, async {
                let _ = signal.await;
            })
            .await
            .expect("serving");
        });
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-api-key", ADMIN_KEY.parse().unwrap());
        let client = client_builder().default_headers(headers).build().unwrap();
        Self {
            base: format!("http://{address}"),
            client,
            shutdown: Some(shutdown),
            server,
        }
    }

    /// Stops the server and waits until the app (engine and store) is dropped.
    pub async fn stop(mut self) {
        drop(self.client);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), &mut self.server)
            .await
            .expect("the server stops within 30 s")
            .expect("the server task ends cleanly");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    pub async fn post_form(&self, path: &str, form: Form) -> Response {
        self.client
            .post(self.url(path))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// GET that must answer 200 with JSON.
    pub async fn get_ok(&self, path: &str) -> Value {
        expect_json(self.get(path).await, StatusCode::OK).await
    }

    /// Every face of `image` (`POST /detect`); must answer 200.
    pub async fn detect(&self, image: Vec<u8>) -> Value {
        expect_json(
            self.post_form("/api/v1/detect", image_form("file", image))
                .await,
            StatusCode::OK,
        )
        .await
    }

    /// Enrolls `image` for `subject`; must answer 201.
    pub async fn enroll(&self, subject: &str, image: Vec<u8>) -> Value {
        let form = image_form("file", image).text("subject", subject.to_owned());
        let body = expect_json(
            self.post_form("/api/v1/reference", form).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(body["subject"], subject, "{body}");
        body
    }

    /// Indexes one photo; answers the status and body.
    pub async fn index(
        &self,
        session: &str,
        photo_id: &str,
        image: Vec<u8>,
    ) -> (StatusCode, Value) {
        let form = image_form("file", image)
            .text("session_id", session.to_owned())
            .text("photo_id", photo_id.to_owned());
        read_json(self.post_form("/api/v1/index", form).await).await
    }

    /// Indexes `photos` (`(photo_id, bytes)`) with four requests in flight; each must be
    /// newly created. Returns the response bodies by photo id.
    pub async fn index_all(
        &self,
        session: &str,
        photos: Vec<(String, Vec<u8>)>,
    ) -> HashMap<String, Value> {
        const IN_FLIGHT: usize = 4;
        let mut lanes: Vec<Vec<(String, Vec<u8>)>> = vec![Vec::new(); IN_FLIGHT];
        for (i, photo) in photos.into_iter().enumerate() {
            lanes[i % IN_FLIGHT].push(photo);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for lane in lanes {
            let client = self.client.clone();
            let url = self.url("/api/v1/index");
            let session = session.to_owned();
            tasks.spawn(async move {
                let mut bodies = Vec::new();
                for (photo_id, bytes) in lane {
                    let form = image_form("file", bytes)
                        .text("session_id", session.clone())
                        .text("photo_id", photo_id.clone());
                    let response = client.post(&url).multipart(form).send().await.unwrap();
                    let body = expect_json(response, StatusCode::CREATED).await;
                    assert_eq!(body["photo_id"], photo_id.as_str(), "{body}");
                    assert_eq!(body["created"], true, "{body}");
                    bodies.push((photo_id, body));
                }
                bodies
            });
        }
        let mut indexed = HashMap::new();
        while let Some(done) = tasks.join_next().await {
            indexed.extend(done.expect("an indexing lane panicked"));
        }
        indexed
    }

    /// A selfie search; answers the status and body.
    pub async fn search(&self, session: &str, selfie: Vec<u8>) -> (StatusCode, Value) {
        self.search_with(session, selfie, &[]).await
    }

    /// A selfie search with extra fields (`limit`, `threshold`).
    pub async fn search_with(
        &self,
        session: &str,
        selfie: Vec<u8>,
        fields: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut form = image_form("file", selfie).text("session_id", session.to_owned());
        for (name, value) in fields {
            form = form.text((*name).to_owned(), (*value).to_owned());
        }
        read_json(self.post_form("/api/v1/search", form).await).await
    }

    /// The photo ids a successful search returned, best first.
    pub async fn search_ids(&self, session: &str, selfie: Vec<u8>) -> Vec<String> {
        let (status, body) = self.search(session, selfie).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        photo_ids(&body)
    }

    pub async fn session_status(&self, session: &str) -> Value {
        self.get_ok(&format!("/api/v1/search/status/{session}"))
            .await
    }

    /// 1:N identification of the main face of `image`.
    pub async fn identify(&self, image: Vec<u8>) -> Value {
        expect_json(
            self.post_form("/api/v1/identify", image_form("file", image))
                .await,
            StatusCode::OK,
        )
        .await
    }

    /// What the stores hold, to check that a refused request changed nothing.
    pub async fn snapshot(&self, sessions: &[&str]) -> Value {
        let mut statuses = Vec::new();
        for s in sessions {
            statuses.push(self.session_status(s).await);
        }
        serde_json::json!({
            "subjects": self.get_ok("/api/v1/subjects").await["subjects"],
            "sessions": statuses,
        })
    }
}

/// A multipart form with one image part named `field`.
pub fn image_form(field: &str, bytes: Vec<u8>) -> Form {
    Form::new().part(field.to_owned(), image_part(bytes))
}

pub fn image_part(bytes: Vec<u8>) -> Part {
    Part::bytes(bytes)
        .file_name("upload.jpg")
        .mime_str("image/jpeg")
        .unwrap()
}

pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The status and the JSON body of a response.
pub async fn read_json(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
    (status, body)
}

/// The JSON body of a response that must have `expected` status.
pub async fn expect_json(response: Response, expected: StatusCode) -> Value {
    let (status, body) = read_json(response).await;
    assert_eq!(status, expected, "{body}");
    body
}

/// Checks an error response: its status, its code, the body's shape and the request id
/// (non-empty, the same in the body and the `x-request-id` header). Returns the body.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> Value {
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (actual, body) = read_json(response).await;
    assert_eq!(
        (actual, body["error"]["code"].as_str()),
        (status, Some(code)),
        "{body}"
    );
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let error = body["error"].as_object().expect("an `error` object");
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "message", "request_id", "type"], "{body}");
    let expected_type = match code {
        "overloaded" | "model_unavailable" => "system",
        "internal" => "internal",
        "unauthorized"
        | "invalid_credentials"
        | "invalid_token"
        | "token_expired"
        | "invalid_api_key"
        | "forbidden"
        | "not_verified"
        | "step_up_required"
        | "face_mismatch" => "auth",
        _ => "invalid_request",
    };
    assert_eq!(error["type"], expected_type, "{body}");
    assert!(
        !error["message"].as_str().unwrap_or_default().is_empty(),
        "{body}"
    );
    assert!(!header_id.is_empty(), "no x-request-id header: {body}");
    assert_eq!(error["request_id"], header_id.as_str(), "{body}");
    body
}

/// The photo ids of a search's matches, best first.
pub fn photo_ids(search: &Value) -> Vec<String> {
    search["matches"]
        .as_array()
        .expect("matches")
        .iter()
        .map(|m| m["photo_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The LFW folder: one sub-folder per person holding `<Person>_<NNNN>.jpg` (numbers are
/// not contiguous: only the photos of the official pairs are there).
#[derive(Debug)]
pub struct Lfw(PathBuf);

impl Lfw {
    /// The photos of `person`, in name order.
    pub fn files(&self, person: &str) -> Vec<PathBuf> {
        let dir = self.0.join(person);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "jpg"))
            .collect();
        files.sort();
        files
    }

    /// The bytes of the `i`-th photo (0-based, in name order) of `person`.
    pub fn photo(&self, person: &str, i: usize) -> Vec<u8> {
        let files = self.files(person);
        let path = files
            .get(i)
            .unwrap_or_else(|| panic!("{person} has {} photos, not {}", files.len(), i + 1));
        std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    /// Every person with their number of photos, in name order.
    pub fn people(&self) -> Vec<(String, usize)> {
        let mut people: Vec<(String, usize)> = std::fs::read_dir(&self.0)
            .expect("listing LFW")
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.path().is_dir())
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let count = self.files(&name).len();
                (name, count)
            })
            .collect();
        people.sort();
        people
    }
}
