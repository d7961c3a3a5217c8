//! Fresh databases, and the record builders of `facegate_core::conformance::fixtures`.

use facegate_core::ports::NoEncryption;
use facegate_store_postgres::PostgresStore;
use sqlx::{Connection, PgConnection};

pub use facegate_core::conformance::fixtures::{
    DIM, MODEL, assert_close, assert_same_photo, at_similarity, photo, reference, unit,
};

/// The server the tests use.
const URL_VARIABLE: &str = "FACEGATE_TEST_DATABASE_URL";
/// When `1`, a missing server fails the tests instead of skipping them.
const REQUIRE_VARIABLE: &str = "FACEGATE_REQUIRE_SERVICES";

/// The URL of a test server in `variable` (started by `script`), or `None` (the test
/// skipped) when it is not set; with `FACEGATE_REQUIRE_SERVICES=1` its absence fails.
pub fn server(variable: &str, script: &str, test: &str) -> Option<String> {
    if let Ok(url) = std::env::var(variable) {
        return Some(url);
    }
    assert!(
        std::env::var(REQUIRE_VARIABLE).as_deref() != Ok("1"),
        "{REQUIRE_VARIABLE}=1 but {variable} is not set: start a server with \
         `export {variable}=\"$({script} start)\"`"
    );
    eprintln!("skipping {test}: {variable} is not set ({script} start)");
    None
}

/// A database of its own for one test, created on the test server. Databases are left
/// behind (a store may still hold connections to it); `scripts/test-postgres.sh stop`
/// removes the whole cluster.
pub struct TestDatabase {
    pub url: String,
}

impl TestDatabase {
    /// A new empty database, or `None` (test skipped) when no server is configured.
    pub async fn create(test: &str) -> Option<Self> {
        let server = server(URL_VARIABLE, "scripts/test-postgres.sh", test)?;
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
    let store = facegate_store_postgres::connect(&db.url, &NoEncryption)
        .await
        .unwrap();
    Some((db, store))
}
