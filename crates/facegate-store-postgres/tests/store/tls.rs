//! The database over TLS: a URL's `sslmode=verify-full` and `sslrootcert` reach a server
//! that accepts TLS connections only (`scripts/test-postgres-tls.sh`), and its certificate
//! is verified against that CA.

use facegate_core::ports::NoEncryption;
use sqlx::{Connection, PgConnection};

const URL_VARIABLE: &str = "FACEGATE_TEST_TLS_DATABASE_URL";

#[tokio::test]
async fn the_database_is_reached_over_verified_tls() {
    let test = "the_database_is_reached_over_verified_tls";
    let Some(url) = crate::support::server(URL_VARIABLE, "scripts/test-postgres-tls.sh", test)
    else {
        return;
    };
    let mut connection = PgConnection::connect(&url).await.expect("a TLS connection");
    let (ssl, version): (bool, String) =
        sqlx::query_as("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut connection)
            .await
            .unwrap();
    assert!(ssl && version.starts_with("TLSv1."), "{ssl} {version}");
    // The store's own connect gets as far as its first migration: this server has no
    // pgvector, so only the handshake and sign-in are shown to work.
    let error = facegate_store_postgres::connect(&url, &NoEncryption)
        .await
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(error.contains("vector"), "{error}");

    let plain = url.replace("sslmode=verify-full", "sslmode=disable");
    let error = PgConnection::connect(&plain).await.unwrap_err().to_string();
    assert!(error.contains("no encryption"), "{error}");
    // A CA that did not sign the server's certificate: refused by the client.
    let (base, _) = url.split_once("&sslrootcert=").unwrap();
    let other_ca = format!("{base}&sslrootcert=/etc/ssl/certs/ca-certificates.crt");
    let error = PgConnection::connect(&other_ca)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}
