//! The S3 backend against a real S3-compatible server (`scripts/test-s3.sh start`):
//! `FACEGATE_TEST_S3_ENDPOINT` is its URL and `FACEGATE_TEST_S3_ROOT` the folder it serves
//! (a bucket is a folder there). Skips when unset, unless `FACEGATE_REQUIRE_SERVICES=1`.

use facegate_blob::ObjectBlobStore;
use facegate_core::ErrorCode;
use facegate_core::ports::BlobStore;

const ACCESS_KEY: &str = "facegate-test";
const SECRET_KEY: &str = "facegate-test-secret";

/// The server's endpoint and a fresh bucket on it.
fn server() -> Option<(String, String)> {
    let (Ok(endpoint), Ok(root)) = (
        std::env::var("FACEGATE_TEST_S3_ENDPOINT"),
        std::env::var("FACEGATE_TEST_S3_ROOT"),
    ) else {
        assert!(
            std::env::var("FACEGATE_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "FACEGATE_TEST_S3_ENDPOINT and FACEGATE_TEST_S3_ROOT are required"
        );
        eprintln!("skipped: no S3 server (run scripts/test-s3.sh start)");
        return None;
    };
    let bucket = format!("blob-{}", std::process::id());
    std::fs::create_dir_all(std::path::Path::new(&root).join(&bucket)).unwrap();
    Some((endpoint, bucket))
}

fn open(endpoint: &str, bucket: &str, secret: &str) -> ObjectBlobStore {
    ObjectBlobStore::from_url(
        &format!("s3://{bucket}/tenant-a"),
        [
            ("aws_endpoint", endpoint),
            ("aws_region", "us-east-1"),
            ("aws_access_key_id", ACCESS_KEY),
            ("aws_secret_access_key", secret),
            ("aws_allow_http", "true"),
        ],
    )
    .unwrap()
}

#[tokio::test]
async fn objects_round_trip_through_s3_under_the_url_prefix() {
    let Some((endpoint, bucket)) = server() else {
        return;
    };
    let root = std::env::var("FACEGATE_TEST_S3_ROOT").unwrap();
    let store = open(&endpoint, &bucket, SECRET_KEY);
    store
        .put("uploads/verification/j1", b"selfie bytes".to_vec())
        .await
        .unwrap();
    assert_eq!(
        store.get("uploads/verification/j1").await.unwrap(),
        b"selfie bytes"
    );
    // Stored by the server under the bucket and the URL's prefix.
    let on_disk = std::path::Path::new(&root)
        .join(&bucket)
        .join("tenant-a/uploads/verification/j1");
    assert_eq!(std::fs::read(&on_disk).unwrap(), b"selfie bytes");

    store.delete("uploads/verification/j1").await.unwrap();
    store.delete("uploads/verification/j1").await.unwrap();
    assert!(!on_disk.exists());
    let missing = store.get("uploads/verification/j1").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::NotFound);
    let bad_key = store.get("../escape").await.unwrap_err();
    assert_eq!(bad_key.code, ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn wrong_credentials_are_an_error_not_a_missing_object() {
    let Some((endpoint, bucket)) = server() else {
        return;
    };
    let store = open(&endpoint, &bucket, "not-the-secret");
    let err = store.put("k", b"x".to_vec()).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Internal, "{err:?}");
    let err = store.get("k").await.unwrap_err();
    assert_ne!(err.code, ErrorCode::NotFound, "{err:?}");
}

#[test]
fn a_malformed_url_or_unknown_scheme_is_refused_clearly() {
    for url in ["not a url", "ftp://host/x"] {
        let err = ObjectBlobStore::from_url(url, []).unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationFailed, "{url}");
    }
}
