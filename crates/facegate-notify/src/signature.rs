//! How deliveries are signed: `x-facegate-signature: sha256=<hex>` where `<hex>` is the
//! HMAC-SHA256, keyed with the hook's secret, of `<timestamp>.<body>` (`timestamp` is the
//! `x-facegate-timestamp` header, Unix seconds). Signing the timestamp with the body lets
//! a receiver refuse old deliveries replayed.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-facegate-signature";
/// Header carrying the signed timestamp (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-facegate-timestamp";

fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// The `x-facegate-signature` value of `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let message = format!("{timestamp}.{body}");
    format!(
        "sha256={}",
        hmac_sha256_hex(secret.as_bytes(), message.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2.
    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// Computed independently: `printf '%s' '1700000000.{"event":"verification.completed"}'
    /// | openssl dgst -sha256 -hmac whsec_test`.
    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        let body = r#"{"event":"verification.completed"}"#;
        assert_eq!(
            signature("whsec_test", 1_700_000_000, body),
            "sha256=3e676f269f45c30dfb0845526b47593ce7466eac1ca1a7a9cc736e654e1e37b4"
        );
        assert_ne!(
            signature("whsec_test", 1_700_000_001, body),
            signature("whsec_test", 1_700_000_000, body)
        );
        assert_ne!(
            signature("whsec_other", 1_700_000_000, body),
            signature("whsec_test", 1_700_000_000, body)
        );
    }
}
