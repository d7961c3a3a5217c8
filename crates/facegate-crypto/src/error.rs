//! Errors in the keys and secrets handed to this crate, reported at start-up.

/// A key or secret from the settings that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the token signing secret is {len} bytes long; it must be at least {min} bytes")]
    SecretTooShort { len: usize, min: usize },
    #[error(
        "the encryption key is not valid standard base64 ({0}); \
         generate one with `openssl rand -base64 32`"
    )]
    NotBase64(#[source] base64::DecodeError),
    #[error(
        "the encryption key is {len} bytes long once decoded; it must be exactly 32 bytes \
         (generate one with `openssl rand -base64 32`)"
    )]
    WrongKeyLength { len: usize },
    #[error("the key id {id:?} is invalid: it must be 1 to 64 printable ASCII characters")]
    InvalidKeyId { id: String },
    #[error("the key id {id:?} is configured more than once with different keys")]
    ConflictingKeyId { id: String },
}
