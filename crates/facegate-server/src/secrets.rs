//! Secrets the embedded default makes for itself when none are configured: the token
//! signing key and a first admin API key, kept in the data folder, readable by the owner
//! only.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use facegate_core::ports::{NoEncryption, Sealer};
use facegate_crypto::Keyring;

use crate::settings::{SecuritySettings, Settings};

/// File of the generated token signing key.
const JWT_SECRET_FILE: &str = "jwt-secret";
/// File of the generated admin API key.
pub const ADMIN_KEY_FILE: &str = "admin-api-key";

/// Writes `contents` to a new file readable by its owner only; fails if it exists.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// The configured token signing key, or the one generated in `data_dir` on first start.
pub fn jwt_secret(settings: &Settings) -> anyhow::Result<String> {
    if let Some(secret) = settings.auth.jwt_secret()? {
        return Ok(secret);
    }
    let path = settings.storage.data_dir.join(JWT_SECRET_FILE);
    if !path.exists() {
        std::fs::create_dir_all(&settings.storage.data_dir)?;
        write_private(&path, &facegate_crypto::new_secret(""))?;
        tracing::info!(path = %path.display(), "generated the token signing key");
    }
    Ok(std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .trim()
        .to_owned())
}

/// Where a generated admin key is written, and the key itself.
pub fn new_admin_key(settings: &Settings) -> anyhow::Result<(PathBuf, String)> {
    let path = settings.storage.data_dir.join(ADMIN_KEY_FILE);
    let secret = facegate_crypto::new_secret("fgk_");
    // A stale file from a wiped store is replaced: the key in it is no longer valid.
    if path.exists() {
        std::fs::remove_file(&path)?;
    }
    write_private(&path, &secret)?;
    Ok((path, secret))
}

/// The sealer of encryption at rest: the configured keyring, or none.
pub fn sealer(security: &SecuritySettings) -> anyhow::Result<Arc<dyn Sealer>> {
    let Some(key) = security.encryption_key()? else {
        anyhow::ensure!(
            security.previous_encryption_keys.is_empty(),
            "security.previous_encryption_keys is set but security.encryption_key is not"
        );
        return Ok(Arc::new(NoEncryption));
    };
    let current = Keyring::parse_key(&key).context("security.encryption_key")?;
    let mut previous = Vec::new();
    for (id, key) in &security.previous_encryption_keys {
        let bytes = Keyring::parse_key(key)
            .with_context(|| format!("security.previous_encryption_keys.{id}"))?;
        previous.push((id.clone(), bytes));
    }
    Ok(Arc::new(Keyring::new(
        &security.encryption_key_id,
        current,
        previous,
    )?))
}
