//! The Kafka verification worker end to end, on the production backends
//! (`scripts/test-services.sh start`): 1,000 requests for 1,000 users (real LFW photos,
//! photos without a face, bytes that are no image, unknown users; half by object-store
//! key, half by shared-volume path, half of those in the async verification service's
//! form `{"username", "path"}` keyed by request id) and unparseable messages; the `facegate worker`
//! process is killed with SIGKILL midway and started again. Every request must end with
//! one result, every user with one face at most, every upload deleted, the bad messages
//! in the dead-letter topic. Skips unless the models and the services are there.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use facegate_blob::ObjectBlobStore;
use facegate_core::account::{Role, User};
use facegate_core::ports::{BlobStore, NoEncryption, UserStore};
use facegate_queue::messages::{ImageRef, VerificationRequest};
use facegate_queue::{KafkaPublisher, KafkaSettings, MessageHeaders};
use facegate_vision::testing::{datasets_dir, models_dir};
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use serde_json::{Value, json};
use sqlx::Connection as _;

#[path = "common/services.rs"]
mod services;

use services::{create_database, files_under, s3_options};

const REQUESTS: usize = 1000;
/// The worker is killed once this many results are out.
const KILL_AFTER: usize = 300;
/// The workers' `session.timeout.ms`: how soon the broker notices a killed one.
const SESSION_TIMEOUT_MS: u64 = 6_000;

struct Services {
    database: String,
    s3_endpoint: String,
    s3_root: PathBuf,
    kafka: String,
}

fn services() -> Option<Services> {
    let get = |name: &str| std::env::var(name).ok();
    if let (Some(database), Some(s3_endpoint), Some(s3_root), Some(kafka)) = (
        get("FACEGATE_TEST_DATABASE_URL"),
        get("FACEGATE_TEST_S3_ENDPOINT"),
        get("FACEGATE_TEST_S3_ROOT"),
        get("FACEGATE_TEST_KAFKA_BROKERS"),
    ) {
        return Some(Services {
            database,
            s3_endpoint,
            s3_root: PathBuf::from(s3_root),
            kafka,
        });
    }
    assert!(
        get("FACEGATE_REQUIRE_SERVICES").as_deref() != Some("1"),
        "the worker test needs the FACEGATE_TEST_* services (scripts/test-services.sh start)"
    );
    eprintln!("skipped: no test services (scripts/test-services.sh start)");
    None
}

/// What each request is, and so what its result must say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Face,
    NoFace,
    NotAnImage,
    UnknownUser,
}

impl Kind {
    fn of(i: usize) -> Self {
        match i % 20 {
            5 => Kind::NoFace,
            11 => Kind::NotAnImage,
            17 => Kind::UnknownUser,
            _ => Kind::Face,
        }
    }
}

/// A photo of a face per request: the first photo of each LFW person, in name order.
fn face_photos(lfw: &Path, count: usize) -> Vec<Vec<u8>> {
    let mut people: Vec<PathBuf> = std::fs::read_dir(lfw)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    people.sort();
    people
        .iter()
        .filter_map(|person| {
            let mut photos: Vec<PathBuf> = std::fs::read_dir(person)
                .ok()?
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
                .collect();
            photos.sort();
            photos.first().map(|p| std::fs::read(p).unwrap())
        })
        .take(count)
        .collect()
}

/// A JPEG of a smooth sky-like gradient: decodes fine, holds no face.
fn sky(seed: usize) -> Vec<u8> {
    let image = image::RgbImage::from_fn(320, 240, |x, y| {
        image::Rgb([
            (90 + y / 4) as u8,
            (140 + y / 5) as u8,
            (200 + (x + seed as u32) % 50) as u8,
        ])
    });
    facegate_vision::testing::jpeg(image)
}

fn config(
    dir: &Path,
    models: &Path,
    db: &str,
    s: &Services,
    bucket: &str,
    k: &KafkaSettings,
) -> PathBuf {
    let path = dir.join("worker.toml");
    let toml = format!(
        r#"
[vision]
models_dir = "{models}"
workers = 1

[storage]
data_dir = "{data}"
object_store_url = "s3://{bucket}"

[storage.object_store_options]
{s3_options}

[database]
url = "{db}"

[kafka]
brokers = "{brokers}"
group_id = "{group}"
requests_topic = "{requests}"
results_topic = "{results}"
dlq_topic = "{dlq}"
max_attempts = 3
retry_backoff_ms = 100

[kafka.properties]
"session.timeout.ms" = "{SESSION_TIMEOUT_MS}"

[worker]
shared_volume = "{volume}"
lease_ms = 3000

[policy]
verification_liveness = false

[http]
bind = "127.0.0.1:0"

[auth]
admin_api_key = "fgk_worker-test-admin-key-0123456789abcdefghij"
jwt_secret = "worker-test-signing-key-0123456789abcdef"

[log]
level = "warn,facegate_queue=info"
"#,
        models = models.display(),
        data = dir.join("data").display(),
        s3_options = s3_options(&s.s3_endpoint)
            .map(|(name, value)| format!("{name} = \"{value}\""))
            .join("\n"),
        brokers = k.brokers,
        group = k.group_id,
        requests = k.requests_topic,
        results = k.results_topic,
        dlq = k.dlq_topic,
        volume = dir.join("volume").display(),
    );
    std::fs::write(&path, toml).unwrap();
    path
}

fn facegate(config: &Path, args: &[&str], log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(args)
        .env("FACEGATE_CONFIG", config)
        .env_remove("FACEGATE__VISION__PACK")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("starting facegate")
}

fn consumer(k: &KafkaSettings, topic: &str) -> StreamConsumer {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &k.brokers)
        .set(
            "group.id",
            format!("observer-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    consumer
}

/// Reads JSON messages from `consumer` into `seen` until `enough` says so or `within`
/// passes; returns whether it was enough.
async fn read_until(
    consumer: &StreamConsumer,
    seen: &mut Vec<Value>,
    within: Duration,
    enough: impl Fn(&[Value]) -> bool,
) -> bool {
    let deadline = Instant::now() + within;
    while !enough(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match tokio::time::timeout(left.min(Duration::from_secs(1)), consumer.recv()).await {
            Ok(Ok(message)) => {
                let payload = message.payload().unwrap_or_default();
                seen.push(serde_json::from_slice(payload).expect("a JSON message"));
            }
            Ok(Err(e)) => eprintln!("observer: {e}"),
            Err(_) => {}
        }
    }
    true
}

fn distinct(results: &[Value]) -> usize {
    results
        .iter()
        .map(|r| r["request_id"].as_str().unwrap().to_owned())
        .collect::<BTreeSet<_>>()
        .len()
}

async fn done_jobs(connection: &mut sqlx::PgConnection) -> i64 {
    let (done,): (i64,) = sqlx::query_as("SELECT count(*) FROM jobs WHERE state = 'done'")
        .fetch_one(connection)
        .await
        .unwrap();
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one scenario, told in order")]
async fn every_request_ends_with_one_result_after_the_worker_is_killed() {
    let (Some(models), Some(datasets)) = (models_dir(), datasets_dir()) else {
        return;
    };
    let Some(s) = services() else { return };
    facegate_notify::install_crypto_provider();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = tempfile::Builder::new()
        .prefix("facegate-worker-")
        .tempdir()
        .unwrap();
    let volume = dir.path().join("volume");
    std::fs::create_dir_all(&volume).unwrap();
    let bucket = format!("worker-{id}");
    std::fs::create_dir_all(s.s3_root.join(&bucket)).unwrap();
    let db = create_database(&s.database, &format!("worker_{id}")).await;
    let kafka = KafkaSettings {
        brokers: s.kafka.clone(),
        group_id: format!("workers-{id}"),
        requests_topic: format!("requests-{id}"),
        results_topic: format!("results-{id}"),
        dlq_topic: format!("dlq-{id}"),
        ..KafkaSettings::default()
    };
    facegate_queue::ensure_topics(&kafka, 3, 1).await.unwrap();
    let config = config(dir.path(), &models, &db, &s, &bucket, &kafka);

    // The schema, by the migrate role.
    let migrate = facegate(&config, &["migrate"], &dir.path().join("migrate.log"))
        .wait_with_output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        std::fs::read_to_string(dir.path().join("migrate.log")).unwrap()
    );
    let report: Value = serde_json::from_slice(&migrate.stdout).unwrap();
    assert_eq!(report["store"], "postgres", "{report}");
    assert!(
        report["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["applied"] == true),
        "{report}"
    );

    // Users, uploads and requests.
    let store = facegate_store_postgres::connect(&db, &NoEncryption)
        .await
        .unwrap();
    let options = s3_options(&s.s3_endpoint);
    let objects = ObjectBlobStore::from_url(
        &format!("s3://{bucket}"),
        options.iter().map(|(name, value)| (*name, value.as_str())),
    )
    .unwrap();
    let faces = face_photos(&datasets.join("lfw"), REQUESTS);
    assert_eq!(faces.len(), REQUESTS, "LFW has too few people");
    let publisher = KafkaPublisher::new(&kafka).unwrap();
    let mut expected: BTreeMap<String, Kind> = BTreeMap::new();
    for (i, face) in faces.iter().enumerate() {
        let kind = Kind::of(i);
        let username = format!("user{i:04}");
        if kind != Kind::UnknownUser {
            let user = User {
                id: format!("u{i:04}"),
                username: username.clone(),
                role: Role::Client,
                verified: false,
                verified_at: None,
                created_at: 0,
            };
            assert!(store.insert_user(&user, "not-a-real-hash").await.unwrap());
        }
        let bytes = match kind {
            Kind::NoFace => sky(i),
            Kind::NotAnImage => format!("not an image {i}").into_bytes(),
            Kind::Face | Kind::UnknownUser => face.clone(),
        };
        let image = if i % 2 == 0 {
            let key = format!("uploads/{i:04}.jpg");
            objects.put(&key, bytes).await.unwrap();
            ImageRef::Key(key)
        } else {
            let name = format!("{i:04}.jpg");
            std::fs::write(volume.join(&name), bytes).unwrap();
            ImageRef::Path(name)
        };
        let request = VerificationRequest {
            request_id: format!("r{i:04}"),
            username,
            image,
            callback_url: None,
        };
        if let (3, ImageRef::Path(path)) = (i % 4, &request.image) {
            // As the async verification service's auth service sends it.
            let bare = json!({"username": request.username, "path": path}).to_string();
            publisher
                .send_raw(
                    &kafka.requests_topic,
                    Some(request.request_id.as_bytes()),
                    bare.as_bytes(),
                    &MessageHeaders::new(),
                )
                .await
                .unwrap();
        } else {
            publisher
                .publish_request(&request, &MessageHeaders::new())
                .await
                .unwrap();
        }
        expected.insert(request.request_id, kind);
        if i % 50 == 25 {
            let bad: &[u8] = if i % 100 == 25 {
                b"{not json"
            } else {
                br#"{"request_id": "bad", "username": "user0001"}"#
            };
            publisher
                .send_raw(&kafka.requests_topic, None, bad, &MessageHeaders::new())
                .await
                .unwrap();
        }
    }
    let bad_messages = REQUESTS / 50;

    // Run, kill midway, run again.
    let results_consumer = consumer(&kafka, &kafka.results_topic);
    let mut results = Vec::new();
    let log = dir.path().join("worker-1.log");
    let mut worker = facegate(&config, &["worker"], &log);
    let reached = read_until(
        &results_consumer,
        &mut results,
        Duration::from_mins(5),
        |r| distinct(r) >= KILL_AFTER,
    )
    .await;
    assert!(
        reached,
        "only {} results before the kill: {}",
        distinct(&results),
        std::fs::read_to_string(&log).unwrap()
    );
    worker.kill().unwrap(); // SIGKILL
    let killed = worker.wait().unwrap();
    assert!(!killed.success());
    // The restart comes once the broker may have expired the killed member (its session
    // timeout, plus margin), as a supervisor's restart delay would make it. tansu 0.6
    // mishandles a member that joins first: when a heartbeat is what expires the dead
    // leader, the group keeps the dead member's assignment and the new member is given no
    // partition, for good. Meanwhile the results the killed worker published last reach
    // the observer.
    read_until(
        &results_consumer,
        &mut results,
        Duration::from_millis(SESSION_TIMEOUT_MS + 2_000),
        |_| false,
    )
    .await;
    let at_kill = distinct(&results);
    let log = dir.path().join("worker-2.log");
    let mut worker = facegate(&config, &["worker"], &log);
    let restarted = Instant::now();
    read_until(
        &results_consumer,
        &mut results,
        Duration::from_mins(8),
        |r| distinct(r) > at_kill,
    )
    .await;
    eprintln!(
        "first new result {:.1} s after the restart",
        restarted.elapsed().as_secs_f64()
    );
    let finished = read_until(
        &results_consumer,
        &mut results,
        Duration::from_mins(8),
        |r| distinct(r) >= REQUESTS,
    )
    .await;
    // A few seconds more: duplicates published late would show up here.
    read_until(
        &results_consumer,
        &mut results,
        Duration::from_secs(5),
        |_| false,
    )
    .await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    let mut connection = sqlx::PgConnection::connect(&db).await.unwrap();
    let done = done_jobs(&mut connection).await;
    assert!(
        finished,
        "{} of {REQUESTS} results, {done} jobs done: {}",
        distinct(&results),
        std::fs::read_to_string(&log).unwrap()
    );

    // One outcome per request, as its kind says; a repeat says the same.
    let mut by_request: HashMap<String, Vec<&Value>> = HashMap::new();
    for r in &results {
        by_request
            .entry(r["request_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(r);
    }
    assert_eq!(by_request.len(), REQUESTS);
    let mut repeats = 0;
    let mut verified = 0;
    for (request_id, kind) in &expected {
        let seen = &by_request[request_id];
        repeats += seen.len() - 1;
        let first = seen[0];
        for other in &seen[1..] {
            assert_eq!(
                (&other["status"], &other["reason"]),
                (&first["status"], &first["reason"]),
                "{request_id}"
            );
        }
        let outcome = (first["status"].as_str().unwrap(), first["reason"].as_str());
        match kind {
            Kind::Face => {
                // A few LFW photos hold a face too small or too poor to accept.
                assert!(
                    outcome.0 == "verified" || outcome == ("rejected", Some("low_quality")),
                    "{request_id}: {first}"
                );
                verified += usize::from(outcome.0 == "verified");
            }
            Kind::NoFace => assert_eq!(
                outcome,
                ("rejected", Some("face_not_found")),
                "{request_id}: {first}"
            ),
            Kind::NotAnImage => assert_eq!(outcome.0, "rejected", "{request_id}: {first}"),
            Kind::UnknownUser => assert_eq!(
                outcome,
                ("failed", Some("not_found")),
                "{request_id}: {first}"
            ),
        }
    }
    eprintln!(
        "{REQUESTS} requests: {verified} verified, {at_kill} results at the kill, {repeats} repeated results"
    );
    let with_a_face = expected.values().filter(|k| **k == Kind::Face).count();
    assert!(
        verified * 10 >= with_a_face * 9,
        "only {verified} of {with_a_face} verified"
    );

    // The store agrees: one done job per known user's request, users verified as told.
    let known = expected
        .values()
        .filter(|k| **k != Kind::UnknownUser)
        .count();
    assert_eq!(done as usize, known);
    let attempts: Vec<(i64, i64)> =
        sqlx::query_as("SELECT attempts::BIGINT, count(*) FROM jobs GROUP BY attempts ORDER BY 1")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    eprintln!("jobs by attempts: {attempts:?}");
    let (users_verified,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM users WHERE verified_at IS NOT NULL")
            .fetch_one(&mut connection)
            .await
            .unwrap();
    assert_eq!(users_verified as usize, verified);
    let (faces_stored,): (i64,) = sqlx::query_as("SELECT count(*) FROM user_faces")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(faces_stored as usize, verified);

    // Every upload is gone, from the volume and from the bucket.
    assert_eq!(files_under(&volume), Vec::<PathBuf>::new());
    assert_eq!(files_under(&s.s3_root.join(&bucket)), Vec::<PathBuf>::new());

    // The unparseable messages, and only they, are dead letters.
    let dlq_consumer = consumer(&kafka, &kafka.dlq_topic);
    let mut dead = Vec::new();
    read_until(&dlq_consumer, &mut dead, Duration::from_secs(30), |d| {
        d.len() >= bad_messages
    })
    .await;
    read_until(&dlq_consumer, &mut dead, Duration::from_secs(3), |_| false).await;
    let payloads: BTreeSet<&str> = dead
        .iter()
        .map(|d| d["payload"].as_str().unwrap())
        .collect();
    assert_eq!(
        payloads,
        BTreeSet::from([
            "{not json",
            r#"{"request_id": "bad", "username": "user0001"}"#
        ]),
        "{dead:?}"
    );
    assert!(dead.len() >= bad_messages, "{} dead letters", dead.len());
    assert!(
        dead.iter()
            .all(|d| !d["error"].as_str().unwrap().is_empty())
    );
}
