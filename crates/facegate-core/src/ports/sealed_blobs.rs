//! A [`BlobStore`] that encrypts what it stores.

use std::sync::Arc;

use async_trait::async_trait;

use super::{BlobStore, Sealer, StoredObject};
use crate::failure::Result;

/// Seals objects on `put` and opens them on `get`, over any other [`BlobStore`]. Objects
/// stored in plain (before encryption was on, or put there by others) read unchanged.
#[derive(Clone)]
pub struct SealedBlobs {
    inner: Arc<dyn BlobStore>,
    sealer: Arc<dyn Sealer>,
}

impl std::fmt::Debug for SealedBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedBlobs")
            .field("key_id", &self.sealer.key_id())
            .finish_non_exhaustive()
    }
}

impl SealedBlobs {
    pub fn new(inner: Arc<dyn BlobStore>, sealer: Arc<dyn Sealer>) -> Self {
        Self { inner, sealer }
    }
}

#[async_trait]
impl BlobStore for SealedBlobs {
    async fn get(&self, key: &str) -> Result<Vec<u8>> {
        self.sealer.open(&self.inner.get(key).await?)
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.inner.put(key, self.sealer.seal(&bytes)?).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<StoredObject>> {
        self.inner.list(prefix, limit).await
    }
}
