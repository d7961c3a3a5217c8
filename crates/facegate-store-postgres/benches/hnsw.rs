//! HNSW search of one large photo session: latency and recall@10 against an exact search.
//!
//! ```sh
//! export FACEGATE_TEST_DATABASE_URL="$(scripts/test-postgres.sh start)"
//! cargo bench -p facegate-store-postgres --bench hnsw
//! ```
//!
//! Synthetic face-like embeddings: `FACEGATE_BENCH_FACES` (100,000) unit vectors in 512-d,
//! drawn around random identity centres, ten faces per identity on average, with a cosine of
//! about 0.75 to their centre (about 0.56 between two faces of one identity, about 0 between
//! identities, as with a real face model). One face per photo, all in one session, inserted
//! through the store; the HNSW index is then built from scratch. Each of
//! `FACEGATE_BENCH_QUERIES` (200) probes is a new face of a stored identity, searched through
//! the store (`CollectionStore::search`, no threshold, limit 10) and compared with the exact
//! top 10 computed in Rust. A few probes are also timed with the index switched off, for the
//! exact search in PostgreSQL. The database is dropped at the end.
//!
//! `FACEGATE_BENCH_VECTORS=<file>` takes real embeddings instead: one JSON array per line;
//! the first `FACEGATE_BENCH_QUERIES` lines are held out as probes, the rest stored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use facegate_core::model::{IndexedFace, IndexedPhoto};
use facegate_core::ports::{CollectionStore, NoEncryption};
use facegate_core::{BoundingBox, Embedding, ModelId};
use facegate_store_postgres::PostgresStore;
use sqlx::{Connection, Executor, PgConnection};

const DIM: usize = 512;
const MODEL: &str = "w600k_mbf@1";
const SESSION: &str = "bench";
const FACES_PER_IDENTITY: usize = 10;
/// Standard deviation of the noise per dimension: |noise| ~ 0.88, cos(face, centre) ~ 0.75.
const NOISE: f32 = 0.039;
const K: usize = 10;
/// Concurrent writers while loading.
const WRITERS: usize = 4;
/// Probes also timed with the index switched off (each one scans the whole table).
const EXACT_PROBES: usize = 10;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// splitmix64: reproducible numbers without a rand dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 + 1.0) / (1_u64 << 24) as f32
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    for x in &mut v {
        *x /= norm;
    }
    v
}

fn around(centre: &[f32], rng: &mut Rng) -> Vec<f32> {
    unit(centre.iter().map(|c| c + NOISE * rng.normal()).collect())
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The ids of the `K` rows nearest to `probe`, by exact cosine.
fn exact_top(faces: &[Vec<f32>], probe: &[f32]) -> Vec<usize> {
    let mut scored: Vec<(f32, usize)> = faces
        .iter()
        .enumerate()
        .map(|(i, f)| (dot(f, probe), i))
        .collect();
    scored.select_nth_unstable_by(K - 1, |a, b| b.0.total_cmp(&a.0));
    scored.truncate(K);
    scored.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|(_, i)| i).collect()
}

/// Stored faces and the probes searched for.
struct Data {
    faces: Vec<Vec<f32>>,
    probes: Vec<Vec<f32>>,
    description: String,
}

/// Face-like vectors around random identity centres; each probe is a new face of a stored
/// identity.
fn synthetic(faces: usize, queries: usize, rng: &mut Rng) -> Data {
    let identities = faces.div_ceil(FACES_PER_IDENTITY);
    let centres: Vec<Vec<f32>> = (0..identities)
        .map(|_| unit((0..DIM).map(|_| rng.normal()).collect()))
        .collect();
    let stored: Vec<Vec<f32>> = (0..faces)
        .map(|i| around(&centres[i % identities], rng))
        .collect();
    let pairs = 100.min(faces.saturating_sub(identities));
    let same = (0..pairs)
        .map(|i| dot(&stored[i], &stored[i + identities]))
        .sum::<f32>()
        / pairs as f32;
    let other = (0..pairs)
        .map(|i| dot(&stored[i], &stored[i + 1]))
        .sum::<f32>()
        / pairs as f32;
    let probes = (0..queries)
        .map(|_| around(&centres[rng.below(identities)], rng))
        .collect();
    Data {
        faces: stored,
        probes,
        description: format!(
            "{faces} synthetic faces of {identities} identities; mean cosine same identity \
             {same:.3}, other identities {other:.3}"
        ),
    }
}

/// Real embeddings from `path`, one JSON array of 512 numbers per line (for example
/// `facegate embed` over LFW photos): the first `queries` lines are the probes, held out,
/// the others are stored.
fn real(path: &str, queries: usize) -> Data {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut vectors: Vec<Vec<f32>> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| unit(serde_json::from_str(line).expect("a JSON array of numbers")))
        .collect();
    assert!(vectors.iter().all(|v| v.len() == DIM), "{DIM}-d vectors");
    assert!(vectors.len() > queries + K, "more vectors than probes");
    let faces = vectors.split_off(queries);
    Data {
        description: format!(
            "{} real embeddings from {path} stored, {queries} held out as probes",
            faces.len()
        ),
        faces,
        probes: vectors,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn embedding(vector: &[f32]) -> Embedding {
    Embedding::from_raw(ModelId(MODEL.into()), vector.to_vec()).expect("a unit vector")
}

fn photo(id: usize, vector: &[f32]) -> IndexedPhoto {
    IndexedPhoto {
        session_id: SESSION.to_owned(),
        photo_id: format!("p{id:06}"),
        faces: vec![IndexedFace {
            face_index: 0,
            bbox: BoundingBox::new(0.0, 0.0, 100.0, 120.0),
            detection_score: 0.9,
            embedding: embedding(vector),
        }],
        indexed_at: id as i64,
    }
}

/// The store's query for the `rows` faces nearest to `probe` (see `src/collections.rs`).
const NEAREST: &str = "SELECT photo_id, face_index, x1, y1, x2, y2, detection_score, \
                       (embedding::vector(512) <=> $1) AS distance FROM faces \
                       WHERE session_id = $3 AND model = $2 AND dim = 512 \
                       ORDER BY (embedding::vector(512) <=> $1) LIMIT $4";

/// A fresh database on the server: its name, its URL and a connection to the server.
async fn create_database(server: &str) -> (String, String, PgConnection) {
    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(server).await.expect("the server");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(server).unwrap();
    url.set_path(&name);
    (name, url.to_string(), admin)
}

/// Inserts every face as a photo of its own through the store, without the HNSW index,
/// then builds the index: much faster than growing the graph row by row.
async fn load(store: &Arc<PostgresStore>, conn: &mut PgConnection, faces: &Arc<Vec<Vec<f32>>>) {
    let index_sql: String =
        sqlx::query_scalar("SELECT pg_get_indexdef('faces_embedding_512'::regclass)")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    sqlx::query("DROP INDEX faces_embedding_512")
        .execute(&mut *conn)
        .await
        .unwrap();
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, faces) = (Arc::clone(store), Arc::clone(faces));
            tokio::spawn(async move {
                for i in (w..faces.len()).step_by(WRITERS) {
                    let (_, created) = store.insert_photo(&photo(i, &faces[i])).await.unwrap();
                    assert!(created);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "insert_photo x {} ({WRITERS} writers): {:.1} s, {:.0} photos/s",
        faces.len(),
        elapsed.as_secs_f64(),
        faces.len() as f64 / elapsed.as_secs_f64()
    );

    let settings: (String, String) = sqlx::query_as(
        "SELECT current_setting('maintenance_work_mem'), \
                current_setting('max_parallel_maintenance_workers')",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let started = Instant::now();
    sqlx::query(&index_sql).execute(&mut *conn).await.unwrap();
    println!(
        "HNSW build (m 16, ef_construction 64, maintenance_work_mem {}, \
         max_parallel_maintenance_workers {}): {:.1} s",
        settings.0,
        settings.1,
        started.elapsed().as_secs_f64()
    );
    sqlx::query("ANALYZE faces")
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// The plan of the store's query, without the probe's literal.
async fn explain(conn: &mut PgConnection, probe: &[f32]) {
    let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {NEAREST}"))
        .bind(pgvector::Vector::from(probe.to_vec()))
        .bind(MODEL)
        .bind(SESSION)
        .bind(32_i64)
        .persistent(false)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    println!("plan of the search (LIMIT 32):");
    for line in plan {
        let line = line.split(" <=> ").next().unwrap_or_default();
        println!("  {line}");
    }
}

/// Searches through the store; latency and recall against the exact top `K`.
async fn measure_search(store: &PostgresStore, faces: &Arc<Vec<Vec<f32>>>, probes: &[Vec<f32>]) {
    // One warm-up, so the first timing does not include loading the index pages.
    store
        .search(SESSION, &embedding(&probes[0]), -1.0, K)
        .await
        .unwrap();
    let mut times = Vec::with_capacity(probes.len());
    let mut found_total = 0;
    for probe in probes {
        let started = Instant::now();
        let found = store
            .search(SESSION, &embedding(probe), -1.0, K)
            .await
            .unwrap();
        times.push(started.elapsed());
        let exact = {
            let faces = Arc::clone(faces);
            let probe = probe.clone();
            tokio::task::spawn_blocking(move || exact_top(&faces, &probe))
                .await
                .unwrap()
        };
        found_total += found
            .iter()
            .filter(|m| exact.contains(&m.photo_id[1..].parse().unwrap()))
            .count();
    }
    times.sort_unstable();
    let recall = found_total as f64 / (probes.len() * K) as f64;
    println!(
        "search (CollectionStore::search, limit {K}) x {}: p50 {:.2} ms, p95 {:.2} ms, \
         max {:.2} ms; recall@{K} {recall:.4}",
        probes.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(*times.last().unwrap()),
    );
}

/// The same query with index scans switched off: an exact scan in PostgreSQL.
async fn measure_exact(conn: &mut PgConnection, probes: &[Vec<f32>]) {
    conn.execute("SET enable_indexscan = off").await.unwrap();
    let mut times = Vec::new();
    for probe in probes.iter().take(EXACT_PROBES) {
        let started = Instant::now();
        let rows = sqlx::query(NEAREST)
            .bind(pgvector::Vector::from(probe.clone()))
            .bind(MODEL)
            .bind(SESSION)
            .bind(K as i64)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        times.push(started.elapsed());
        assert_eq!(rows.len(), K);
    }
    times.sort_unstable();
    println!(
        "exact search in PostgreSQL (index scans off) x {}: p50 {:.1} ms",
        times.len(),
        ms(percentile(&times, 0.5))
    );
    conn.execute("RESET enable_indexscan").await.unwrap();
}

#[tokio::main]
async fn main() {
    let Ok(server) = std::env::var("FACEGATE_TEST_DATABASE_URL") else {
        eprintln!(
            "hnsw bench skipped: set FACEGATE_TEST_DATABASE_URL \
             (export FACEGATE_TEST_DATABASE_URL=\"$(scripts/test-postgres.sh start)\")"
        );
        return;
    };
    let faces_wanted = env_usize("FACEGATE_BENCH_FACES", 100_000);
    let queries = env_usize("FACEGATE_BENCH_QUERIES", 200);

    let (name, url, mut admin) = create_database(&server).await;
    let store = Arc::new(
        facegate_store_postgres::connect(&url, &NoEncryption)
            .await
            .unwrap(),
    );
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let versions: (String, String) = sqlx::query_as(
        "SELECT current_setting('server_version'), \
                (SELECT extversion FROM pg_extension WHERE extname = 'vector')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    println!("PostgreSQL {}, pgvector {}", versions.0, versions.1);

    let mut rng = Rng(42);
    let data = match std::env::var("FACEGATE_BENCH_VECTORS") {
        Ok(path) => real(&path, queries),
        Err(_) => synthetic(faces_wanted, queries, &mut rng),
    };
    println!("{}", data.description);
    let faces = Arc::new(data.faces);

    load(&store, &mut conn, &faces).await;
    explain(&mut conn, &data.probes[0]).await;
    measure_search(&store, &faces, &data.probes).await;
    measure_exact(&mut conn, &data.probes).await;

    store.close().await;
    conn.close().await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}
