//! The [`BlobStore`] port over the `object_store` crate.

use std::path::Path as FsPath;
use std::sync::Arc;

use async_trait::async_trait;
use facegate_core::ports::{BlobStore, StoredObject};
use facegate_core::{ErrorCode, Failure, Result};
use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;

/// Objects in any `object_store` backend.
#[derive(Debug, Clone)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
}

impl ObjectBlobStore {
    /// Objects as files under `root` (created if missing).
    pub fn local(root: &FsPath) -> Result<Self> {
        std::fs::create_dir_all(root)
            .map_err(|e| Failure::internal(format!("cannot create {}: {e}", root.display())))?;
        let store =
            LocalFileSystem::new_with_prefix(root).map_err(|e| Failure::internal(e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
        })
    }

    /// Objects in memory, gone at exit (tests).
    pub fn in_memory() -> Self {
        Self {
            store: Arc::new(InMemory::new()),
        }
    }

    /// Any other backend.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// The store a URL names: `s3://bucket/prefix` (S3, MinIO and other S3-compatible
    /// servers), `gs://bucket/prefix`, `file:///folder` or `memory:///`, with the
    /// backend's options (`aws_endpoint`, `aws_region`, `aws_access_key_id`,
    /// `aws_secret_access_key`, `aws_allow_http`, `google_service_account`, ...; see the
    /// `object_store` builders' config keys). Keys are stored under the URL's path.
    pub fn from_url<'a>(
        url: &str,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self> {
        let parsed = url::Url::parse(url)
            .map_err(|e| Failure::validation(format!("invalid object store URL `{url}`: {e}")))?;
        let options: Vec<(String, String)> = options
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        let (store, prefix) = object_store::parse_url_opts(&parsed, options).map_err(|e| {
            Failure::validation(format!("cannot open the object store `{url}`: {e}"))
        })?;
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            Arc::from(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(Self { store })
    }
}

/// The objects under one key prefix, for callers confined to it: key `a/b` is the inner
/// store's `prefix/a/b`, a key that already starts with `prefix/` is taken as it is
/// (FacePass's `sessions/<id>/photo.jpg` under prefix `sessions`), and the inner store's
/// key rules (no `..`) keep it there.
#[derive(Clone)]
pub struct ScopedBlobs {
    inner: Arc<dyn BlobStore>,
    prefix: String,
}

impl std::fmt::Debug for ScopedBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedBlobs")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl ScopedBlobs {
    /// `prefix` without leading or trailing slashes; empty: the whole inner store.
    pub fn new(inner: Arc<dyn BlobStore>, prefix: &str) -> Self {
        Self {
            inner,
            prefix: prefix.trim_matches('/').to_owned(),
        }
    }

    fn key(&self, key: &str) -> String {
        let named = key
            .strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.starts_with('/'));
        if self.prefix.is_empty() || named {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }
}

#[async_trait]
impl BlobStore for ScopedBlobs {
    async fn get(&self, key: &str) -> Result<Vec<u8>> {
        self.inner.get(&self.key(key)).await
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.inner.put(&self.key(key), bytes).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(&self.key(key)).await
    }

    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<StoredObject>> {
        let inner = self.key(prefix);
        let added = inner.len() - prefix.len();
        let mut objects = self.inner.list(&inner, limit).await?;
        for object in &mut objects {
            object.key.drain(..added);
        }
        Ok(objects)
    }
}

/// Longest part of a key between slashes: file systems refuse longer names.
const MAX_KEY_SEGMENT: usize = 255;

/// Parses a client-supplied key; `..` and empty segments are refused so that a key can
/// never leave the store's root, and segments longer than a file name may be.
fn key(key: &str) -> Result<Path> {
    let valid = !key.is_empty()
        && key.len() <= 1024
        && key
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".." && s.len() <= MAX_KEY_SEGMENT);
    if !valid {
        return Err(Failure::validation(format!("invalid object key `{key}`")));
    }
    Path::parse(key).map_err(|e| Failure::validation(format!("invalid object key `{key}`: {e}")))
}

fn failure(key: &str, e: &object_store::Error) -> Failure {
    match e {
        object_store::Error::NotFound { .. } => {
            Failure::new(ErrorCode::NotFound, format!("object `{key}` was not found"))
        }
        other => Failure::internal(format!("object store error on `{key}`: {other}")),
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn get(&self, k: &str) -> Result<Vec<u8>> {
        let path = key(k)?;
        let result = self.store.get(&path).await.map_err(|e| failure(k, &e))?;
        let bytes = result.bytes().await.map_err(|e| failure(k, &e))?;
        Ok(bytes.to_vec())
    }

    async fn put(&self, k: &str, bytes: Vec<u8>) -> Result<()> {
        let path = key(k)?;
        self.store
            .put(&path, bytes.into())
            .await
            .map_err(|e| failure(k, &e))?;
        Ok(())
    }

    async fn delete(&self, k: &str) -> Result<()> {
        let path = key(k)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(failure(k, &e)),
        }
    }

    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<StoredObject>> {
        let folder = key(prefix.trim_end_matches('/'))?;
        self.store
            .list(Some(&folder))
            .take(limit)
            .map_ok(|meta| StoredObject {
                key: meta.location.to_string(),
                modified_at: meta.last_modified.timestamp_millis(),
            })
            .try_collect()
            .await
            .map_err(|e| failure(prefix, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_delete_on_the_local_filesystem() {
        let dir = std::env::temp_dir().join(format!("facegate-blob-{}", std::process::id()));
        let store = ObjectBlobStore::local(&dir).unwrap();
        store.put("event/a.jpg", b"abc".to_vec()).await.unwrap();
        assert_eq!(store.get("event/a.jpg").await.unwrap(), b"abc");
        assert!(dir.join("event/a.jpg").exists());
        store.delete("event/a.jpg").await.unwrap();
        store.delete("event/a.jpg").await.unwrap();
        let err = store.get("event/a.jpg").await.unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Listing finds the objects below a folder, with their keys and times, and no others.
    #[tokio::test]
    async fn objects_are_listed_by_folder() {
        let dir = std::env::temp_dir().join(format!("facegate-blob-list-{}", std::process::id()));
        let store = Arc::new(ObjectBlobStore::local(&dir).unwrap());
        for k in ["tenant/a/1", "tenant/a/b/2", "tenant/ab/3", "other/4"] {
            store.put(k, b"x".to_vec()).await.unwrap();
        }
        let scoped = ScopedBlobs::new(store.clone(), "tenant");
        let mut keys: Vec<String> = scoped
            .list("a/", 10)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        keys.sort();
        assert_eq!(keys, ["a/1", "a/b/2"]);
        let listed = store.list("other/", 10).await.unwrap();
        let age = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            - listed[0].modified_at;
        assert!((0..60_000).contains(&age), "{listed:?}");
        assert_eq!(store.list("tenant/", 2).await.unwrap().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A key that names a folder, not an object, is the caller's mistake.
    #[tokio::test]
    async fn a_folder_is_not_an_object() {
        let dir = std::env::temp_dir().join(format!("facegate-blob-dir-{}", std::process::id()));
        let store = ObjectBlobStore::local(&dir).unwrap();
        store.put("event/a.jpg", b"abc".to_vec()).await.unwrap();
        let err = store.get("event").await.unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(err.code, ErrorCode::NotFound, "{}", err.message);
    }

    #[tokio::test]
    async fn a_scoped_store_reads_under_its_prefix_only() {
        let store = Arc::new(ObjectBlobStore::in_memory());
        store.put("imports/a.jpg", b"in".to_vec()).await.unwrap();
        store.put("scans/b.jpg", b"out".to_vec()).await.unwrap();
        let imports = ScopedBlobs::new(store.clone(), "/imports/");
        assert_eq!(imports.get("a.jpg").await.unwrap(), b"in");
        // A key that names the prefix already is not prefixed twice.
        assert_eq!(imports.get("imports/a.jpg").await.unwrap(), b"in");
        let lookalike = imports.get("importsa.jpg").await.unwrap_err();
        assert_eq!(lookalike.code, ErrorCode::NotFound);
        let missing = imports.get("scans/b.jpg").await.unwrap_err();
        assert_eq!(missing.code, ErrorCode::NotFound);
        for escape in ["../scans/b.jpg", "imports/../scans/b.jpg"] {
            let err = imports.get(escape).await.unwrap_err();
            assert_eq!(err.code, ErrorCode::ValidationFailed, "{escape}");
        }
        let everything = ScopedBlobs::new(store, "");
        assert_eq!(everything.get("scans/b.jpg").await.unwrap(), b"out");
    }

    #[tokio::test]
    async fn keys_cannot_escape_the_root() {
        let store = ObjectBlobStore::in_memory();
        let long = format!("event/{}", "a".repeat(MAX_KEY_SEGMENT + 1));
        for bad in ["../etc/passwd", "a/../../b", "", "a//b", "/abs", &long] {
            let err = store.get(bad).await.unwrap_err();
            assert_eq!(err.code, ErrorCode::ValidationFailed, "{bad}");
        }
    }
}
