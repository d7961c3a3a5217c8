//! Random secrets (API keys, refresh tokens) and the digest they are stored by.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// How many random bytes a secret carries (before encoding).
pub const SECRET_BYTES: usize = 32;

/// `prefix` followed by [`SECRET_BYTES`] random bytes in URL-safe base64 without padding.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The SHA-256 of the secret in lower-case hex. A fast hash is enough: the secrets are
/// random and long, so there is nothing to guess from their digest.
pub(crate) fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn secrets_carry_the_prefix_and_are_unique() {
        let secrets: HashSet<String> = (0..100).map(|_| new_secret("fgk_")).collect();
        assert_eq!(secrets.len(), 100);
        for secret in &secrets {
            let encoded = secret.strip_prefix("fgk_").expect("prefix");
            // 32 bytes are 43 characters of unpadded base64.
            assert_eq!(encoded.len(), 43, "{secret}");
            assert_eq!(URL_SAFE_NO_PAD.decode(encoded).unwrap().len(), SECRET_BYTES);
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{secret}"
            );
        }
    }

    #[test]
    fn digest_is_stable_sha256_hex() {
        // SHA-256("abc") from FIPS 180-2.
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let secret = new_secret("fgr_");
        let first = digest(&secret);
        assert_eq!(first, digest(&secret));
        assert_eq!(first.len(), 64);
        assert!(
            first
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        );
        assert_ne!(first, digest(&new_secret("fgr_")));
    }
}
