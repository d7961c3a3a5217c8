//! Accounts and access: registration, tokens, API keys and forgetting a user.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::account::{
    AccessClaims, ApiKey, Principal, PrincipalKind, RefreshToken, RefreshUse, Role, Scope,
    TokenPair, User,
};
use crate::error::ErrorCode;
use crate::failure::{Failure, Result};
use crate::model::Timestamp;
use crate::ports::{ApiKeyStore, BlobStore, Clock, Credentials, TokenRejection, UserStore};

/// Lifetimes of tokens and password rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AuthPolicy {
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    pub min_password_len: usize,
}

/// The adapters an [`AccountService`] works through.
#[derive(Clone)]
pub struct AccountPorts {
    pub users: Arc<dyn UserStore>,
    pub keys: Arc<dyn ApiKeyStore>,
    pub credentials: Arc<dyn Credentials>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
}

debug_ports!(AccountPorts);

/// Registration, authentication, API keys and account deletion.
#[derive(Clone)]
pub struct AccountService {
    ports: AccountPorts,
    policy: AuthPolicy,
    /// Normalised names self-registration refuses.
    reserved: Vec<String>,
    /// Keys given in the configuration, by digest: their position in the list.
    static_keys: HashMap<String, usize>,
    static_key_scopes: Vec<Scope>,
}

impl std::fmt::Debug for AccountService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What `GET /auth/check` tells about a valid token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenCheck {
    pub valid: bool,
    pub user_id: String,
    pub username: String,
    pub role: Role,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub expires_at: Timestamp,
}

/// Prefix of API key secrets.
const API_KEY_PREFIX: &str = "fgk_";

/// Whether a credential is shaped like one of facegate's API keys (tokens never are).
fn has_key_prefix(secret: &str) -> bool {
    secret.starts_with(API_KEY_PREFIX)
}
/// Prefix of refresh tokens.
const REFRESH_PREFIX: &str = "fgr_";
/// Characters of an API key shown in listings.
const SHOWN_PREFIX_LEN: usize = 12;
/// Longest password accepted, in characters (hashing cost is bounded: 4 KiB of UTF-8).
const MAX_PASSWORD_LEN: usize = 1024;
/// Names nobody may register themselves; the bootstrap admin's name is added at start.
const RESERVED_USERNAMES: [&str; 3] = ["admin", "administrator", "root"];

/// The one spelling of a username that is stored and looked up: usernames are
/// case-insensitive (`Alice`, `alice` and `ALICE` are one account). Valid usernames are
/// ASCII, so this is a full case fold.
pub fn normalize_username(username: &str) -> String {
    username.to_ascii_lowercase()
}

fn validate_username(username: &str) -> Result<()> {
    let ok = (3..=64).contains(&username.chars().count())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Failure::validation(
            "username must be 3 to 64 letters, digits or ._-@",
        ))
    }
}

fn invalid_token() -> Failure {
    Failure::new(ErrorCode::InvalidToken, "the token is not valid")
}

fn invalid_credentials() -> Failure {
    Failure::new(
        ErrorCode::InvalidCredentials,
        "the username or password is wrong",
    )
}

impl AccountService {
    pub fn new(ports: AccountPorts, policy: AuthPolicy) -> Self {
        Self {
            ports,
            policy,
            reserved: RESERVED_USERNAMES.map(str::to_owned).to_vec(),
            static_keys: HashMap::new(),
            static_key_scopes: Vec::new(),
        }
    }

    /// Also accepts `secrets` as API keys with `scopes`: keys of the configuration, held
    /// in memory as digests and never stored, so one dropped from the configuration is
    /// refused after the next start.
    #[must_use]
    pub fn with_static_keys(mut self, secrets: &[String], scopes: &[Scope]) -> Self {
        self.static_keys = secrets
            .iter()
            .enumerate()
            .map(|(i, secret)| (self.ports.credentials.digest(secret), i))
            .collect();
        self.static_key_scopes = scopes.to_vec();
        self
    }

    /// Also refuses `username` at self-registration (the bootstrap admin account's name).
    #[must_use]
    pub fn reserving(mut self, username: &str) -> Self {
        self.reserved.push(normalize_username(username));
        self
    }

    fn now_secs(&self) -> i64 {
        self.ports.clock.now() / 1000
    }

    fn validate_password(&self, password: &str) -> Result<()> {
        let len = password.chars().count();
        if len < self.policy.min_password_len || len > MAX_PASSWORD_LEN {
            return Err(Failure::validation(format!(
                "password must be {} to {MAX_PASSWORD_LEN} characters",
                self.policy.min_password_len
            )));
        }
        Ok(())
    }

    /// A new account of `role`, under the normalised username; a taken username is a
    /// conflict.
    pub async fn create_user(&self, username: &str, password: &str, role: Role) -> Result<User> {
        validate_username(username)?;
        self.validate_password(password)?;
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            username: normalize_username(username),
            role,
            verified: false,
            verified_at: None,
            created_at: self.ports.clock.now(),
        };
        let hash = self.ports.credentials.hash_password(password)?;
        if self.ports.users.insert_user(&user, &hash).await? {
            Ok(user)
        } else {
            Err(Failure::new(
                ErrorCode::Conflict,
                "this username is not available",
            ))
        }
    }

    /// Self-registration: always a client, never under a reserved name.
    pub async fn register(&self, username: &str, password: &str) -> Result<User> {
        if self.reserved.contains(&normalize_username(username)) {
            return Err(Failure::new(
                ErrorCode::Conflict,
                "this username is reserved; choose another",
            ));
        }
        self.create_user(username, password, Role::Client).await
    }

    /// Creates the user unless the username exists with that role (start-up bootstrap of
    /// an admin). The name held by an account of another role is an error: the bootstrap
    /// would silently not happen.
    pub async fn ensure_user(&self, username: &str, password: &str, role: Role) -> Result<bool> {
        let name = normalize_username(username);
        if let Some((existing, _)) = self.ports.users.user_by_name(&name).await? {
            if existing.role == role {
                return Ok(false);
            }
            return Err(Failure::new(
                ErrorCode::Conflict,
                format!(
                    "the username {name:?} is held by a {} account, so the {} account was not \
                     created: delete that user or choose another name",
                    existing.role.as_str(),
                    role.as_str()
                ),
            ));
        }
        self.create_user(&name, password, role).await.map(|_| true)
    }

    async fn issue(&self, user: &User, family: String) -> Result<TokenPair> {
        let now = self.now_secs();
        let claims = AccessClaims {
            sub: user.id.clone(),
            username: user.username.clone(),
            role: user.role,
            iat: now,
            exp: now + self.policy.access_ttl_secs,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let access_token = self.ports.credentials.sign_access(&claims)?;
        let refresh_token = self.ports.credentials.new_secret(REFRESH_PREFIX);
        self.ports
            .users
            .insert_refresh_token(&RefreshToken {
                digest: self.ports.credentials.digest(&refresh_token),
                user_id: user.id.clone(),
                family,
                expires_at: (now + self.policy.refresh_ttl_secs) * 1000,
            })
            .await?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            token_type: "Bearer",
            expires_in: self.policy.access_ttl_secs,
        })
    }

    /// Tokens for a username and password. Unknown users and wrong passwords get the same
    /// answer after the same work.
    pub async fn login(&self, username: &str, password: &str) -> Result<TokenPair> {
        if password.chars().count() > MAX_PASSWORD_LEN {
            return Err(invalid_credentials());
        }
        let found = self
            .ports
            .users
            .user_by_name(&normalize_username(username))
            .await?;
        let hash = found.as_ref().map(|(_, h)| h.as_str());
        if !self.ports.credentials.verify_password(password, hash) {
            return Err(invalid_credentials());
        }
        let (user, _) = found.ok_or_else(invalid_credentials)?;
        self.issue(&user, uuid::Uuid::new_v4().to_string()).await
    }

    /// New tokens for a refresh token, which is used up (rotation). Presenting a used
    /// token again revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        let digest = self.ports.credentials.digest(refresh_token);
        let now = self.ports.clock.now();
        match self.ports.users.use_refresh_token(&digest, now).await? {
            RefreshUse::Fresh(token) => {
                let user = self
                    .ports
                    .users
                    .user(&token.user_id)
                    .await?
                    .ok_or_else(invalid_token)?;
                self.issue(&user, token.family).await
            }
            RefreshUse::Replayed { family } => {
                self.ports.users.revoke_refresh_family(&family).await?;
                Err(invalid_token())
            }
            RefreshUse::Invalid => Err(invalid_token()),
        }
    }

    /// Revokes the refresh token's family (logout everywhere the login reached).
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        let digest = self.ports.credentials.digest(refresh_token);
        match self
            .ports
            .users
            .use_refresh_token(&digest, self.ports.clock.now())
            .await?
        {
            RefreshUse::Fresh(RefreshToken { family, .. }) | RefreshUse::Replayed { family } => {
                self.ports.users.revoke_refresh_family(&family).await
            }
            RefreshUse::Invalid => Err(invalid_token()),
        }
    }

    fn claims(&self, token: &str) -> Result<AccessClaims> {
        self.ports
            .credentials
            .verify_access(token, self.now_secs())
            .map_err(|r| match r {
                TokenRejection::Expired => Failure::new(
                    ErrorCode::TokenExpired,
                    "the access token has expired; refresh it",
                ),
                TokenRejection::Invalid => invalid_token(),
            })
    }

    /// The caller behind a bearer token. The user must still exist, and the role is the
    /// one stored now (a demoted user loses rights before the token expires).
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal> {
        let claims = self.claims(token)?;
        let user = self
            .ports
            .users
            .user(&claims.sub)
            .await?
            .ok_or_else(invalid_token)?;
        Ok(Principal {
            scopes: user.role.scopes().to_vec(),
            kind: PrincipalKind::User {
                id: user.id,
                username: user.username,
                role: user.role,
            },
        })
    }

    /// Whether a token is valid, whose, which role and until when.
    pub async fn check_token(&self, token: &str) -> Result<TokenCheck> {
        let claims = self.claims(token)?;
        let user = self
            .ports
            .users
            .user(&claims.sub)
            .await?
            .ok_or_else(invalid_token)?;
        Ok(TokenCheck {
            valid: true,
            user_id: user.id,
            username: user.username,
            role: user.role,
            expires_at: claims.exp * 1000,
        })
    }

    /// The caller behind an API key; unknown and revoked keys get the same answer.
    pub async fn authenticate_key(&self, secret: &str) -> Result<Principal> {
        self.authenticate_digest(&self.ports.credentials.digest(secret))
            .await
    }

    /// The caller behind a bearer credential: an API key (by its prefix, or one of the
    /// configuration's keys; the recognition backend's clients send keys this way), else
    /// an access token.
    pub async fn authenticate_bearer(&self, credential: &str) -> Result<Principal> {
        let digest = self.ports.credentials.digest(credential);
        if has_key_prefix(credential) || self.static_keys.contains_key(&digest) {
            self.authenticate_digest(&digest).await
        } else {
            self.authenticate_token(credential).await
        }
    }

    /// The caller behind the API key with this digest.
    async fn authenticate_digest(&self, digest: &str) -> Result<Principal> {
        if let Some(i) = self.static_keys.get(digest) {
            return Ok(Principal {
                scopes: self.static_key_scopes.clone(),
                kind: PrincipalKind::ApiKey {
                    id: format!("static-{i}"),
                    name: format!("auth.static_api_keys[{i}]"),
                },
            });
        }
        match self.ports.keys.api_key_by_digest(digest).await? {
            Some(key) if key.revoked_at.is_none() => Ok(Principal {
                scopes: key.scopes,
                kind: PrincipalKind::ApiKey {
                    id: key.id,
                    name: key.name,
                },
            }),
            _ => Err(Failure::new(
                ErrorCode::InvalidApiKey,
                "the API key is not valid",
            )),
        }
    }

    async fn store_key(
        &self,
        secret: &str,
        name: &str,
        scopes: Vec<Scope>,
        created_by: String,
    ) -> Result<ApiKey> {
        let key = ApiKey {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            scopes,
            prefix: secret.chars().take(SHOWN_PREFIX_LEN).collect(),
            created_by,
            created_at: self.ports.clock.now(),
            revoked_at: None,
        };
        self.ports
            .keys
            .insert_api_key(&key, &self.ports.credentials.digest(secret))
            .await?;
        Ok(key)
    }

    /// A new API key; the secret is returned once and only its digest is kept.
    pub async fn create_api_key(
        &self,
        creator: &Principal,
        name: &str,
        scopes: Vec<Scope>,
    ) -> Result<(ApiKey, String)> {
        if name.trim().is_empty() || name.chars().count() > 128 {
            return Err(Failure::validation("name must be 1 to 128 characters"));
        }
        if scopes.is_empty() {
            return Err(Failure::validation("scopes must not be empty"));
        }
        let secret = self.ports.credentials.new_secret(API_KEY_PREFIX);
        let key = self
            .store_key(&secret, name, scopes, creator.actor())
            .await?;
        Ok((key, secret))
    }

    /// Stores `secret` as an admin key unless it is stored already (start-up bootstrap).
    pub async fn ensure_admin_key(&self, secret: &str) -> Result<bool> {
        if secret.len() < 32 {
            return Err(Failure::validation(
                "the bootstrap admin API key must be at least 32 characters",
            ));
        }
        let digest = self.ports.credentials.digest(secret);
        if self.ports.keys.api_key_by_digest(&digest).await?.is_some() {
            return Ok(false);
        }
        self.store_key(
            secret,
            "bootstrap admin",
            Scope::ALL.to_vec(),
            "config".into(),
        )
        .await
        .map(|_| true)
    }

    /// Whether any unrevoked key carries the admin scope.
    pub async fn has_admin_key(&self) -> Result<bool> {
        Ok(self
            .ports
            .keys
            .api_keys()
            .await?
            .iter()
            .any(|k| k.revoked_at.is_none() && k.scopes.contains(&Scope::Admin)))
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKey>> {
        self.ports.keys.api_keys().await
    }

    pub async fn revoke_api_key(&self, id: &str) -> Result<()> {
        if self
            .ports
            .keys
            .revoke_api_key(id, self.ports.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(Failure::not_found(format!("API key {id}")))
        }
    }

    pub async fn user(&self, id: &str) -> Result<User> {
        self.ports
            .users
            .user(id)
            .await?
            .ok_or_else(|| Failure::not_found(format!("user {id}")))
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        self.ports.users.users().await
    }

    /// Forgets a user: rows (account, face, tokens, jobs, transactions) and the uploads
    /// their unfinished jobs still hold.
    pub async fn delete_user(&self, id: &str) -> Result<()> {
        let uploads = self
            .ports
            .users
            .delete_user(id)
            .await?
            .ok_or_else(|| Failure::not_found(format!("user {id}")))?;
        for key in uploads {
            self.ports.blobs.delete(&key).await?;
        }
        Ok(())
    }
}
