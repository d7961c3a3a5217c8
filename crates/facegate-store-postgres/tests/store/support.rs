//! Fresh databases, synthetic embeddings with known similarities and record builders.

use facegate_core::model::{IndexedFace, IndexedPhoto, Reference};
use facegate_core::ports::NoEncryption;
use facegate_core::{BoundingBox, Embedding, FaceDetection, Landmarks5, ModelId};
use facegate_store_postgres::PostgresStore;
use sqlx::{Connection, PgConnection};

pub const MODEL: &str = "w600k_mbf@1";
pub const DIM: usize = 512;

/// The server the tests use.
const URL_VARIABLE: &str = "FACEGATE_TEST_DATABASE_URL";
/// When `1`, a missing server fails the tests instead of skipping them.
const REQUIRE_VARIABLE: &str = "FACEGATE_REQUIRE_SERVICES";

/// A database of its own for one test, created on the test server. Databases are left
/// behind (a store may still hold connections to it); `scripts/test-postgres.sh stop`
/// removes the whole cluster.
pub struct TestDatabase {
    pub url: String,
}

impl TestDatabase {
    /// A new empty database, or `None` (test skipped) when no server is configured.
    pub async fn create(test: &str) -> Option<Self> {
        let Ok(server) = std::env::var(URL_VARIABLE) else {
            assert!(
                std::env::var(REQUIRE_VARIABLE).as_deref() != Ok("1"),
                "{REQUIRE_VARIABLE}=1 but {URL_VARIABLE} is not set: start a server with \
                 `export {URL_VARIABLE}=\"$(scripts/test-postgres.sh start)\"`"
            );
            eprintln!(
                "skipping {test}: {URL_VARIABLE} is not set (scripts/test-postgres.sh start)"
            );
            return None;
        };
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {URL_VARIABLE}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let mut url = url::Url::parse(&server).expect("a postgres:// URL");
        url.set_path(&name);
        Some(Self {
            url: url.to_string(),
        })
    }

    /// A connection of its own, for looking past the store.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }
}

/// The store on a fresh database, encryption off; `None` when skipped.
pub async fn open_store(test: &str) -> Option<(TestDatabase, PostgresStore)> {
    let db = TestDatabase::create(test).await?;
    let store = PostgresStore::connect(&db.url, &NoEncryption)
        .await
        .unwrap();
    Some((db, store))
}

/// A tiny linear congruential generator: reproducible vectors without a rand dependency.
struct Lcg(u64);

impl Lcg {
    /// Uniform in -1..1.
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1_u64 << 24) as f32) * 2.0 - 1.0
    }

    fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.next()).collect()
    }
}

/// A random unit embedding of `model`.
pub fn random_unit(model: &str, dim: usize, seed: u64) -> Embedding {
    Embedding::from_raw(ModelId(model.into()), Lcg(seed).vector(dim)).unwrap()
}

/// A unit embedding (of `base`'s model) whose cosine with `base` is `similarity`.
pub fn at_similarity(base: &Embedding, similarity: f32, seed: u64) -> Embedding {
    let b = base.vector();
    let mut other = Lcg(seed).vector(b.len());
    let along: f32 = other.iter().zip(b).map(|(o, b)| o * b).sum();
    for (o, b) in other.iter_mut().zip(b) {
        *o -= along * b;
    }
    let norm = other.iter().map(|o| o * o).sum::<f32>().sqrt();
    let across = (1.0 - similarity * similarity).sqrt();
    let vector = b
        .iter()
        .zip(&other)
        .map(|(b, o)| similarity * b + across * o / norm)
        .collect();
    Embedding::from_raw(base.model().clone(), vector).unwrap()
}

pub fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    facegate_core::similarity::cosine(a, b).unwrap()
}

pub fn assert_close(actual: f32, expected: f32) {
    assert!(
        (actual - expected).abs() < 1e-4,
        "{actual} is not close to {expected}"
    );
}

pub fn detection(score: f32) -> FaceDetection {
    FaceDetection {
        bbox: BoundingBox::new(10.0, 20.0, 110.0, 140.0),
        score,
        landmarks: Landmarks5::default(),
    }
}

pub fn reference(id: &str, subject: &str, embedding: Embedding, created_at: i64) -> Reference {
    Reference {
        id: id.to_owned(),
        subject: subject.to_owned(),
        face: detection(0.98),
        quality: 0.8,
        embedding,
        created_at,
        crop: None,
    }
}

/// A photo whose face `i` has box `(10i, 10i, 10i + 50, 10i + 60)` and score `0.9 - 0.1i`.
pub fn photo(
    session: &str,
    photo_id: &str,
    faces: Vec<Embedding>,
    indexed_at: i64,
) -> IndexedPhoto {
    IndexedPhoto {
        session_id: session.to_owned(),
        photo_id: photo_id.to_owned(),
        faces: faces
            .into_iter()
            .enumerate()
            .map(|(i, embedding)| {
                let at = 10.0 * i as f32;
                IndexedFace {
                    face_index: i as u32,
                    bbox: BoundingBox::new(at, at, at + 50.0, at + 60.0),
                    detection_score: 0.9 - 0.1 * i as f32,
                    embedding,
                }
            })
            .collect(),
        indexed_at,
    }
}

/// Two photos are the same record; embeddings compared by cosine, not bit for bit.
pub fn assert_same_photo(actual: &IndexedPhoto, expected: &IndexedPhoto) {
    assert_eq!(actual.session_id, expected.session_id);
    assert_eq!(actual.photo_id, expected.photo_id);
    assert_eq!(actual.indexed_at, expected.indexed_at);
    assert_eq!(actual.faces.len(), expected.faces.len());
    for (a, e) in actual.faces.iter().zip(&expected.faces) {
        assert_eq!(a.face_index, e.face_index);
        assert_eq!(a.bbox, e.bbox);
        // REAL holds every f32 exactly.
        assert_eq!(a.detection_score.to_bits(), e.detection_score.to_bits());
        assert_eq!(a.embedding.model(), e.embedding.model());
        assert_close(cosine(&a.embedding, &e.embedding), 1.0);
    }
}
