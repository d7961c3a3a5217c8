//! [`Credentials`] from the password hasher, the token signer and the secret generator.

use facegate_core::Result;
use facegate_core::account::AccessClaims;
use facegate_core::ports::{Credentials, TokenRejection};

use crate::error::KeyError;
use crate::passwords::{PasswordCost, Passwords};
use crate::secrets;
use crate::tokens::AccessTokens;

/// Argon2id password hashes, HS256 access tokens, and random secrets stored by their
/// SHA-256 digest.
pub struct TokenCredentials {
    passwords: Passwords,
    tokens: AccessTokens,
}

impl std::fmt::Debug for TokenCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCredentials")
            .field("password_cost", &self.passwords.cost())
            .finish_non_exhaustive()
    }
}

impl TokenCredentials {
    /// `token_secret` is the HMAC key access tokens are signed with, at least
    /// [`MIN_TOKEN_SECRET_BYTES`](crate::MIN_TOKEN_SECRET_BYTES) long. Use
    /// [`PasswordCost::Default`] outside tests.
    pub fn new(token_secret: &[u8], cost: PasswordCost) -> Result<Self, KeyError> {
        Ok(Self {
            tokens: AccessTokens::new(token_secret)?,
            passwords: Passwords::new(cost),
        })
    }
}

impl Credentials for TokenCredentials {
    fn hash_password(&self, password: &str) -> Result<String> {
        self.passwords.hash(password)
    }

    fn verify_password(&self, password: &str, hash: Option<&str>) -> bool {
        self.passwords.verify(password, hash)
    }

    fn sign_access(&self, claims: &AccessClaims) -> Result<String> {
        self.tokens.sign(claims)
    }

    fn verify_access(&self, token: &str, now: i64) -> Result<AccessClaims, TokenRejection> {
        self.tokens.verify(token, now)
    }

    fn new_secret(&self, prefix: &str) -> String {
        secrets::new_secret(prefix)
    }

    fn digest(&self, secret: &str) -> String {
        secrets::digest(secret)
    }
}

#[cfg(test)]
mod tests {
    use facegate_core::account::Role;

    use super::*;

    fn credentials() -> Box<dyn Credentials> {
        Box::new(TokenCredentials::new(&[7; 32], PasswordCost::Fast).unwrap())
    }

    #[test]
    fn short_secret_is_refused() {
        let err = TokenCredentials::new(b"too short", PasswordCost::Fast).unwrap_err();
        assert_eq!(err, KeyError::SecretTooShort { len: 9, min: 32 });
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }

    #[test]
    fn works_through_the_port() {
        let credentials = credentials();
        let hash = credentials.hash_password("hunter2").unwrap();
        assert!(credentials.verify_password("hunter2", Some(&hash)));
        assert!(!credentials.verify_password("hunter3", Some(&hash)));
        assert!(!credentials.verify_password("hunter2", None));

        let claims = AccessClaims {
            sub: "u1".into(),
            username: "ada".into(),
            role: Role::Operator,
            iat: 1_000,
            exp: 1_900,
            jti: "j1".into(),
        };
        let token = credentials.sign_access(&claims).unwrap();
        assert_eq!(credentials.verify_access(&token, 1_500), Ok(claims));

        let secret = credentials.new_secret("fgr_");
        assert!(secret.starts_with("fgr_"));
        assert_eq!(credentials.digest(&secret), secrets::digest(&secret));
    }

    #[test]
    fn debug_shows_no_secret() {
        let debug = format!(
            "{:?}",
            TokenCredentials::new(&[7; 32], PasswordCost::Fast).unwrap()
        );
        assert_eq!(debug, "TokenCredentials { password_cost: Fast, .. }");
    }
}
