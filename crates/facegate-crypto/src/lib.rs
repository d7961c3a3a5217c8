//! The cryptography of facegate: password hashing (Argon2id), access tokens (JWT HS256),
//! random secrets and their digests, and encryption at rest (AES-256-GCM envelopes with
//! key rotation).
//!
//! [`TokenCredentials`] implements [`facegate_core::ports::Credentials`] and [`Keyring`]
//! implements [`facegate_core::ports::Sealer`]; the server crate wires them in.

mod credentials;
mod error;
mod passwords;
mod sealing;
mod secrets;
mod tokens;

pub use credentials::TokenCredentials;
pub use error::KeyError;
pub use passwords::PasswordCost;
pub use sealing::{KEY_BYTES, Keyring, MAX_KEY_ID_BYTES};
pub use secrets::{SECRET_BYTES, new_secret};
pub use tokens::{AUDIENCE, ISSUER, MIN_TOKEN_SECRET_BYTES};
