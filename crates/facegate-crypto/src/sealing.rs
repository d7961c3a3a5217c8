//! Encryption at rest: AES-256-GCM envelopes that name their key, so keys can rotate.
//!
//! An envelope is laid out as
//!
//! ```text
//! b"FGE1" | id_len: u8 | key id (id_len bytes) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//! ```
//!
//! The key id is 1 to [`MAX_KEY_ID_BYTES`] printable ASCII characters. The header (magic,
//! id length and key id) is the associated data of the encryption, so it cannot be changed
//! without the tag failing; the nonce is random for every envelope.
//!
//! Data that does not start with the magic is taken as plain data stored before encryption
//! was switched on, and [`Keyring::open`](Sealer::open) returns it unchanged. Plain data
//! that happens to start with `FGE1` would be refused as a corrupt envelope; the images
//! and embeddings facegate stores do not (JPEG, PNG, WebP, HEIC and
//! AVIF have their own magic).

use std::collections::HashMap;

use aes_gcm::aead::{Aead, AeadCore, AeadInPlace, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use facegate_core::ports::Sealer;
use facegate_core::{Failure, Result};

use crate::error::KeyError;

/// The length of an AES-256 key.
pub const KEY_BYTES: usize = 32;
/// The longest key id an envelope can name.
pub const MAX_KEY_ID_BYTES: usize = 64;

const MAGIC: &[u8; 4] = b"FGE1";
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

/// The current key, which seals, and older keys kept to open what they sealed.
#[derive(Clone)]
pub struct Keyring {
    current_id: String,
    current: Aes256Gcm,
    /// Every key by id, the current one included.
    keys: HashMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        ids.sort_unstable();
        f.debug_struct("Keyring")
            .field("current", &self.current_id)
            .field("keys", &ids)
            .finish()
    }
}

impl Keyring {
    /// A keyring sealing with `current_key` under `current_id`, and opening envelopes
    /// of the `previous` keys too. An id may be repeated only with the same key.
    pub fn new<I, K>(
        current_id: &str,
        current_key: [u8; KEY_BYTES],
        previous: I,
    ) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = (K, [u8; KEY_BYTES])>,
        K: Into<String>,
    {
        let mut raw: HashMap<String, [u8; KEY_BYTES]> = HashMap::new();
        let all = std::iter::once((current_id.to_owned(), current_key))
            .chain(previous.into_iter().map(|(id, key)| (id.into(), key)));
        for (id, key) in all {
            if !is_valid_key_id(&id) {
                return Err(KeyError::InvalidKeyId { id });
            }
            match raw.get(&id) {
                Some(known) if *known != key => return Err(KeyError::ConflictingKeyId { id }),
                Some(_) => {}
                None => {
                    raw.insert(id, key);
                }
            }
        }
        let keys: HashMap<String, Aes256Gcm> = raw
            .into_iter()
            .map(|(id, key)| (id, Aes256Gcm::new(&key.into())))
            .collect();
        Ok(Self {
            current_id: current_id.to_owned(),
            current: keys[current_id].clone(),
            keys,
        })
    }

    /// Reads a key written in standard base64 (as `openssl rand -base64 32` prints it);
    /// surrounding whitespace, such as the newline at the end of a key file, is ignored.
    pub fn parse_key(base64: &str) -> Result<[u8; KEY_BYTES], KeyError> {
        let bytes = STANDARD
            .decode(base64.trim())
            .map_err(KeyError::NotBase64)?;
        <[u8; KEY_BYTES]>::try_from(bytes.as_slice())
            .map_err(|_| KeyError::WrongKeyLength { len: bytes.len() })
    }
}

impl Sealer for Keyring {
    fn key_id(&self) -> Option<&str> {
        Some(&self.current_id)
    }

    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
        let id = self.current_id.as_bytes();
        let header_len = MAGIC.len() + 1 + id.len();
        let mut envelope = Vec::with_capacity(header_len + NONCE_BYTES + plain.len() + TAG_BYTES);
        envelope.extend_from_slice(MAGIC);
        // Fits: ids are at most MAX_KEY_ID_BYTES (64) long.
        envelope.push(id.len() as u8);
        envelope.extend_from_slice(id);
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        envelope.extend_from_slice(&nonce);
        envelope.extend_from_slice(plain);
        let (head, body) = envelope.split_at_mut(header_len + NONCE_BYTES);
        let tag = self
            .current
            .encrypt_in_place_detached(&nonce, &head[..header_len], body)
            .map_err(|_| Failure::internal("sealing failed: the data is too large for AES-GCM"))?;
        envelope.extend_from_slice(&tag);
        Ok(envelope)
    }

    fn open(&self, data: &[u8]) -> Result<Vec<u8>> {
        let Some(rest) = data.strip_prefix(MAGIC) else {
            return Ok(data.to_vec());
        };
        let malformed =
            || Failure::internal("cannot open sealed data: the envelope is truncated or malformed");
        let (&id_len, rest) = rest.split_first().ok_or_else(malformed)?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_BYTES + TAG_BYTES {
            return Err(malformed());
        }
        let (id, rest) = rest.split_at(id_len);
        let id = std::str::from_utf8(id)
            .ok()
            .filter(|id| is_valid_key_id(id))
            .ok_or_else(malformed)?;
        let (nonce, body) = rest.split_at(NONCE_BYTES);
        let cipher = self.keys.get(id).ok_or_else(|| {
            Failure::internal(format!(
                "cannot open sealed data: it was sealed with key {id}, and key {id} is not configured"
            ))
        })?;
        let header_len = MAGIC.len() + 1 + id_len;
        let payload = Payload {
            msg: body,
            aad: &data[..header_len],
        };
        cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| {
                Failure::internal(format!(
                    "cannot open sealed data with key {id}: the data is corrupt or the key is wrong"
                ))
            })
    }
}

fn is_valid_key_id(id: &str) -> bool {
    (1..=MAX_KEY_ID_BYTES).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use facegate_core::ErrorCode;

    use super::*;

    const K1: [u8; KEY_BYTES] = [1; KEY_BYTES];
    const K2: [u8; KEY_BYTES] = [2; KEY_BYTES];
    const NO_PREVIOUS: [(&str, [u8; KEY_BYTES]); 0] = [];
    const PLAIN: &[u8] = b"a face crop, or an embedding, that must not be readable at rest";

    fn only(id: &str, key: [u8; KEY_BYTES]) -> Keyring {
        Keyring::new(id, key, NO_PREVIOUS).unwrap()
    }

    fn internal_message(result: Result<Vec<u8>>) -> String {
        let failure = result.unwrap_err();
        assert_eq!(failure.code, ErrorCode::Internal);
        failure.message
    }

    #[test]
    fn round_trip() {
        let keyring = only("k1", K1);
        assert_eq!(keyring.key_id(), Some("k1"));
        for plain in [PLAIN, b"", b"FGE1"] {
            let sealed = keyring.seal(plain).unwrap();
            assert_eq!(keyring.open(&sealed).unwrap(), plain);
        }
    }

    #[test]
    fn envelope_layout() {
        let sealed = only("k1", K1).seal(PLAIN).unwrap();
        assert_eq!(&sealed[..7], b"FGE1\x02k1");
        assert_eq!(sealed.len(), 7 + NONCE_BYTES + PLAIN.len() + TAG_BYTES);
    }

    #[test]
    fn ciphertext_hides_the_plaintext_and_nonces_differ() {
        let keyring = only("k1", K1);
        let first = keyring.seal(PLAIN).unwrap();
        let second = keyring.seal(PLAIN).unwrap();
        assert_ne!(first, second);
        for sealed in [&first, &second] {
            assert!(!sealed.windows(8).any(|w| PLAIN.windows(8).any(|p| p == w)));
        }
    }

    #[test]
    fn rotation_keeps_old_data_readable() {
        let sealed_with_k1 = only("k1", K1).seal(PLAIN).unwrap();

        let rotated = Keyring::new("k2", K2, [("k1", K1)]).unwrap();
        assert_eq!(rotated.key_id(), Some("k2"));
        assert_eq!(rotated.open(&sealed_with_k1).unwrap(), PLAIN);

        let sealed_with_k2 = rotated.seal(PLAIN).unwrap();
        assert_eq!(&sealed_with_k2[..7], b"FGE1\x02k2");
        assert_eq!(only("k2", K2).open(&sealed_with_k2).unwrap(), PLAIN);
    }

    #[test]
    fn a_key_that_is_not_configured_is_named() {
        let sealed_with_k1 = only("k1", K1).seal(PLAIN).unwrap();
        let message = internal_message(only("k2", K2).open(&sealed_with_k1));
        assert!(message.contains("key k1 is not configured"), "{message}");
    }

    #[test]
    fn the_wrong_key_under_the_right_id_fails() {
        let sealed = only("k1", K1).seal(PLAIN).unwrap();
        let message = internal_message(only("k1", K2).open(&sealed));
        assert!(message.contains("corrupt or the key is wrong"), "{message}");
    }

    #[test]
    fn every_flipped_byte_after_the_magic_fails() {
        let keyring = Keyring::new("k1", K1, [("k2", K2)]).unwrap();
        let sealed = keyring.seal(PLAIN).unwrap();
        for index in MAGIC.len()..sealed.len() {
            let mut flipped = sealed.clone();
            flipped[index] ^= 0x01;
            assert!(keyring.open(&flipped).is_err(), "byte {index}");
        }
        let mut flipped = sealed.clone();
        flipped[20] ^= 0x80;
        let message = internal_message(keyring.open(&flipped));
        assert!(message.contains("corrupt or the key is wrong"), "{message}");
    }

    #[test]
    fn the_key_id_is_authenticated() {
        // Two ids with the same key: only the associated data tells them apart.
        let keyring = Keyring::new("ka", K1, [("kb", K1)]).unwrap();
        let mut sealed = keyring.seal(PLAIN).unwrap();
        assert_eq!(keyring.open(&sealed).unwrap(), PLAIN);
        sealed[6] = b'b';
        let message = internal_message(keyring.open(&sealed));
        assert!(
            message.contains("with key kb: the data is corrupt"),
            "{message}"
        );
    }

    #[test]
    fn truncated_envelopes_are_refused() {
        let keyring = only("k1", K1);
        let sealed = keyring.seal(PLAIN).unwrap();
        for len in [4, 5, 7, 7 + NONCE_BYTES, 7 + NONCE_BYTES + TAG_BYTES - 1] {
            let message = internal_message(keyring.open(&sealed[..len]));
            assert!(
                message.contains("truncated or malformed"),
                "{len}: {message}"
            );
        }
        let message = internal_message(keyring.open(b"FGE1\x00rest of the data is long enough"));
        assert!(message.contains("truncated or malformed"), "{message}");
    }

    #[test]
    fn plain_data_passes_through() {
        let keyring = only("k1", K1);
        for plain in [
            &b""[..],
            b"\xff\xd8\xff\xe0 a jpeg",
            b"FGE",
            b"fge1 lower case",
            PLAIN,
        ] {
            assert_eq!(keyring.open(plain).unwrap(), plain);
        }
    }

    #[test]
    fn key_ids_are_checked() {
        let long = "k".repeat(MAX_KEY_ID_BYTES + 1);
        for id in ["", "with space", "clé", "tab\t", long.as_str()] {
            assert_eq!(
                Keyring::new(id, K1, NO_PREVIOUS).unwrap_err(),
                KeyError::InvalidKeyId { id: id.into() }
            );
            assert_eq!(
                Keyring::new("k1", K1, [(id, K2)]).unwrap_err(),
                KeyError::InvalidKeyId { id: id.into() }
            );
        }
        let longest = "k".repeat(MAX_KEY_ID_BYTES);
        let keyring = only(&longest, K1);
        assert_eq!(keyring.open(&keyring.seal(PLAIN).unwrap()).unwrap(), PLAIN);
    }

    #[test]
    fn an_id_may_repeat_only_with_the_same_key() {
        let keyring = Keyring::new("k1", K1, [("k1", K1)]).unwrap();
        assert_eq!(
            format!("{keyring:?}"),
            r#"Keyring { current: "k1", keys: ["k1"] }"#
        );
        let err = Keyring::new("k1", K1, [("k1", K2)]).unwrap_err();
        assert_eq!(err, KeyError::ConflictingKeyId { id: "k1".into() });
        let err = Keyring::new("k2", K2, [("k1", K1), ("k1", K2)]).unwrap_err();
        assert_eq!(err, KeyError::ConflictingKeyId { id: "k1".into() });
    }

    #[test]
    fn debug_shows_ids_only() {
        let keyring = Keyring::new("k2", K2, [("k1", K1)]).unwrap();
        assert_eq!(
            format!("{keyring:?}"),
            r#"Keyring { current: "k2", keys: ["k1", "k2"] }"#
        );
    }

    #[test]
    fn parse_key_accepts_standard_base64_of_32_bytes() {
        let text = STANDARD.encode([0xfb; KEY_BYTES]);
        assert!(text.contains('+') || text.contains('/'), "{text}");
        assert_eq!(Keyring::parse_key(&text).unwrap(), [0xfb; KEY_BYTES]);
        assert_eq!(
            Keyring::parse_key(&format!("  {text}\n")).unwrap(),
            [0xfb; KEY_BYTES]
        );
    }

    #[test]
    fn parse_key_explains_what_is_wrong() {
        let short = Keyring::parse_key(&STANDARD.encode([1; 16])).unwrap_err();
        assert_eq!(short, KeyError::WrongKeyLength { len: 16 });
        assert!(short.to_string().contains("exactly 32 bytes"), "{short}");

        let long = Keyring::parse_key(&STANDARD.encode([1; 33])).unwrap_err();
        assert_eq!(long, KeyError::WrongKeyLength { len: 33 });

        let url_safe = STANDARD
            .encode([0xfb; KEY_BYTES])
            .replace('+', "-")
            .replace('/', "_");
        for text in ["not base64!", url_safe.as_str(), ""] {
            let err = Keyring::parse_key(text).unwrap_err();
            match &err {
                KeyError::NotBase64(_) | KeyError::WrongKeyLength { len: 0 } => {}
                other => panic!("{text:?}: {other:?}"),
            }
            assert!(err.to_string().contains("openssl rand -base64 32"), "{err}");
        }
    }
}
