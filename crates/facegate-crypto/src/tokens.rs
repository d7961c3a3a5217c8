//! Access tokens: JWTs signed with HMAC-SHA256 (HS256), issued by [`ISSUER`] for
//! [`AUDIENCE`]. Refresh tokens are not JWTs but opaque random secrets.

use facegate_core::account::AccessClaims;
use facegate_core::ports::TokenRejection;
use facegate_core::{Failure, Result};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;

use crate::error::KeyError;

/// The `iss` claim of every access token.
pub const ISSUER: &str = "facegate";
/// The `aud` claim of every access token.
pub const AUDIENCE: &str = "facegate-api";
/// The shortest HMAC key accepted: as long as the SHA-256 output.
pub const MIN_TOKEN_SECRET_BYTES: usize = 32;

/// What is signed: the claims of the domain plus issuer and audience.
#[derive(Serialize)]
struct SignedClaims<'a> {
    #[serde(flatten)]
    claims: &'a AccessClaims,
    iss: &'static str,
    aud: &'static str,
}

/// Signs and checks access tokens.
pub(crate) struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl AccessTokens {
    pub(crate) fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_TOKEN_SECRET_BYTES {
            return Err(KeyError::SecretTooShort {
                len: secret.len(),
                min: MIN_TOKEN_SECRET_BYTES,
            });
        }
        // Only HS256: any other `alg` in the header (`none`, HS384, RS256, ...) is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        // jsonwebtoken checks `exp` against the system clock; `verify` checks it against the
        // caller's `now` instead. The claim is still required to be present.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        // Without these required, a token lacking `iss` or `aud` would pass their checks.
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }

    pub(crate) fn sign(&self, claims: &AccessClaims) -> Result<String> {
        let signed = SignedClaims {
            claims,
            iss: ISSUER,
            aud: AUDIENCE,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &signed, &self.encoding)
            .map_err(|e| Failure::internal(format!("signing the access token failed: {e}")))
    }

    /// Checks algorithm, signature, issuer and audience, then expiry against `now`
    /// (seconds), with no leeway: a token is expired from the second its `exp` names.
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenRejection> {
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenRejection::Invalid)?
            .claims;
        if claims.exp <= now {
            return Err(TokenRejection::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use facegate_core::account::Role;

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn tokens() -> AccessTokens {
        AccessTokens::new(SECRET).unwrap()
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            sub: "user-1".into(),
            username: "ada".into(),
            role: Role::Client,
            iat: 1_700_000_000,
            exp: 1_700_000_900,
            jti: "token-1".into(),
        }
    }

    /// The decoded JSON of one part of a token.
    fn part(token: &str, index: usize) -> String {
        let encoded = token.split('.').nth(index).unwrap();
        String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap()
    }

    fn encode_part(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Signs `payload` with this header algorithm and key, bypassing `AccessTokens`.
    fn forge(alg: Algorithm, secret: &[u8], payload: &impl Serialize) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            payload,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let tokens = tokens();
        let token = tokens.sign(&claims()).unwrap();
        assert_eq!(tokens.verify(&token, claims().iat), Ok(claims()));
        assert_eq!(tokens.verify(&token, claims().exp - 1), Ok(claims()));

        assert_eq!(part(&token, 0), r#"{"typ":"JWT","alg":"HS256"}"#);
        let payload = part(&token, 1);
        assert!(payload.contains(r#""iss":"facegate""#), "{payload}");
        assert!(payload.contains(r#""aud":"facegate-api""#), "{payload}");
        assert!(payload.contains(r#""role":"client""#), "{payload}");
    }

    #[test]
    fn expiry_uses_now_with_no_leeway() {
        let tokens = tokens();
        let token = tokens.sign(&claims()).unwrap();
        assert_eq!(
            tokens.verify(&token, claims().exp),
            Err(TokenRejection::Expired)
        );
        assert_eq!(
            tokens.verify(&token, claims().exp + 3_600),
            Err(TokenRejection::Expired)
        );
        // Long expired by the system clock, valid at the `now` given.
        let mut old = claims();
        old.iat = 100;
        old.exp = 200;
        let token = tokens.sign(&old).unwrap();
        assert_eq!(tokens.verify(&token, 150), Ok(old));
    }

    #[test]
    fn another_secret_is_invalid() {
        let other = AccessTokens::new(b"another secret that is long enough!").unwrap();
        let token = other.sign(&claims()).unwrap();
        assert_eq!(
            tokens().verify(&token, claims().iat),
            Err(TokenRejection::Invalid)
        );
    }

    #[test]
    fn an_expired_forgery_is_invalid_not_expired() {
        let other = AccessTokens::new(b"another secret that is long enough!").unwrap();
        let token = other.sign(&claims()).unwrap();
        assert_eq!(
            tokens().verify(&token, claims().exp + 1),
            Err(TokenRejection::Invalid)
        );
    }

    #[test]
    fn tampered_payload_is_invalid() {
        let tokens = tokens();
        let token = tokens.sign(&claims()).unwrap();
        let payload = part(&token, 1).replace(r#""role":"client""#, r#""role":"admin""#);
        assert!(payload.contains(r#""role":"admin""#));
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], encode_part(&payload), parts[2]);
        assert_eq!(
            tokens.verify(&tampered, claims().iat),
            Err(TokenRejection::Invalid)
        );
    }

    #[test]
    fn alg_none_is_invalid() {
        let tokens = tokens();
        let token = tokens.sign(&claims()).unwrap();
        let unsigned = format!(
            "{}.{}.",
            encode_part(r#"{"alg":"none","typ":"JWT"}"#),
            encode_part(&part(&token, 1))
        );
        assert_eq!(
            tokens.verify(&unsigned, claims().iat),
            Err(TokenRejection::Invalid)
        );
        // The same with the original signature kept.
        let resigned = format!(
            "{}.{}",
            encode_part(r#"{"alg":"none","typ":"JWT"}"#),
            token.split_once('.').unwrap().1
        );
        assert_eq!(
            tokens.verify(&resigned, claims().iat),
            Err(TokenRejection::Invalid)
        );
    }

    #[test]
    fn other_hmac_algorithms_are_invalid_even_with_the_right_key() {
        let signed = SignedClaims {
            claims: &claims(),
            iss: ISSUER,
            aud: AUDIENCE,
        };
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let token = forge(alg, SECRET, &signed);
            assert_eq!(
                tokens().verify(&token, claims().iat),
                Err(TokenRejection::Invalid),
                "{alg:?}"
            );
        }
        // The control: the same forging path with HS256 is accepted.
        let token = forge(Algorithm::HS256, SECRET, &signed);
        assert_eq!(tokens().verify(&token, claims().iat), Ok(claims()));
    }

    #[test]
    fn issuer_and_audience_are_required_and_checked() {
        #[derive(Serialize)]
        struct Custom<'a> {
            #[serde(flatten)]
            claims: &'a AccessClaims,
            #[serde(skip_serializing_if = "Option::is_none")]
            iss: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            aud: Option<&'a str>,
        }
        let claims = claims();
        let cases = [
            (None, Some(AUDIENCE)),
            (Some(ISSUER), None),
            (Some("someone-else"), Some(AUDIENCE)),
            (Some(ISSUER), Some("another-api")),
        ];
        for (iss, aud) in cases {
            let custom = Custom {
                claims: &claims,
                iss,
                aud,
            };
            let token = forge(Algorithm::HS256, SECRET, &custom);
            assert_eq!(
                tokens().verify(&token, claims.iat),
                Err(TokenRejection::Invalid),
                "iss {iss:?}, aud {aud:?}"
            );
        }
    }

    #[test]
    fn garbage_is_invalid() {
        let tokens = tokens();
        for garbage in [
            "",
            ".",
            "..",
            "not a token",
            "a.b.c",
            "eyJhbGciOiJIUzI1NiJ9.e30.",
            &"x".repeat(10_000),
        ] {
            assert_eq!(
                tokens.verify(garbage, 0),
                Err(TokenRejection::Invalid),
                "{garbage:.20}"
            );
        }
    }
}
