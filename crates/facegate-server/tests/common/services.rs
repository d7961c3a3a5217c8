//! What the tests that run on the production backends (`scripts/test-services.sh start`)
//! share: the S3 server's access keys, a fresh PostgreSQL database, and the files a
//! folder holds.

use std::path::{Path, PathBuf};

use sqlx::Connection as _;

/// The access keys `scripts/test-s3.sh` starts its server with.
const S3_ACCESS_KEY: &str = "facegate-test";
const S3_SECRET_KEY: &str = "facegate-test-secret";

/// The `object_store` options of the test S3 server at `endpoint`.
pub fn s3_options(endpoint: &str) -> [(&'static str, String); 5] {
    [
        ("aws_endpoint", endpoint.to_owned()),
        ("aws_region", "us-east-1".to_owned()),
        ("aws_access_key_id", S3_ACCESS_KEY.to_owned()),
        ("aws_secret_access_key", S3_SECRET_KEY.to_owned()),
        ("aws_allow_http", "true".to_owned()),
    ]
}

/// Creates database `name` on the test server `server`; its URL.
pub async fn create_database(server: &str, name: &str) -> String {
    let mut admin = sqlx::PgConnection::connect(server)
        .await
        .expect("connecting to FACEGATE_TEST_DATABASE_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("creating the test database");
    let mut url = url::Url::parse(server).expect("a postgres:// URL");
    url.set_path(name);
    url.to_string()
}

/// Every file under `dir`, recursively; none when `dir` is missing.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
