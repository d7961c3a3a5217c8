//! [`CachedCollections`]: session status kept between polls.

use std::sync::Arc;

use async_trait::async_trait;

use crate::face::Embedding;
use crate::failure::Result;
use crate::model::{IndexedPhoto, PhotoMatch, SessionStatus};
use crate::ports::{Cache, CollectionStore};

/// A [`CollectionStore`] whose `status` answers are cached by `session-status:<id>`
/// (clients poll it while a batch is indexed). A new photo or the session's deletion
/// removes the entry; with several replicas sharing the cache a read racing a write can
/// keep an old count until the TTL, so keep it short. The other methods call the store.
pub struct CachedCollections {
    inner: Arc<dyn CollectionStore>,
    cache: Arc<dyn Cache>,
    ttl_ms: u64,
}

debug_ports!(CachedCollections);

fn status_key(session_id: &str) -> String {
    format!("session-status:{session_id}")
}

impl CachedCollections {
    /// Cached statuses live `ttl_ms` milliseconds.
    pub fn new(inner: Arc<dyn CollectionStore>, cache: Arc<dyn Cache>, ttl_ms: u64) -> Self {
        Self {
            inner,
            cache,
            ttl_ms,
        }
    }
}

#[async_trait]
impl CollectionStore for CachedCollections {
    async fn insert_photo(&self, photo: &IndexedPhoto) -> Result<(IndexedPhoto, bool)> {
        let result = self.inner.insert_photo(photo).await;
        // Only a photo that was already there surely changed nothing; after an error the
        // store may have written part of it.
        if !matches!(result, Ok((_, false))) {
            self.cache.delete(&status_key(&photo.session_id)).await;
        }
        result
    }

    async fn photo(&self, session_id: &str, photo_id: &str) -> Result<Option<IndexedPhoto>> {
        self.inner.photo(session_id, photo_id).await
    }

    async fn status(&self, session_id: &str) -> Result<SessionStatus> {
        let key = status_key(session_id);
        if let Some(hit) = self.cache.get(&key).await
            && let Ok(status) = serde_json::from_slice::<SessionStatus>(&hit)
            && status.session_id == session_id
        {
            return Ok(status);
        }
        let status = self.inner.status(session_id).await?;
        if let Ok(bytes) = serde_json::to_vec(&status) {
            self.cache.set(&key, &bytes, self.ttl_ms).await;
        }
        Ok(status)
    }

    async fn delete_session(&self, session_id: &str) -> Result<usize> {
        let result = self.inner.delete_session(session_id).await;
        self.cache.delete(&status_key(session_id)).await;
        result
    }

    async fn search(
        &self,
        session_id: &str,
        probe: &Embedding,
        threshold: f32,
        limit: usize,
    ) -> Result<Vec<PhotoMatch>> {
        self.inner.search(session_id, probe, threshold, limit).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::FutureExt;

    use super::*;
    use crate::ports::CacheHealth;
    use crate::{ErrorCode, Failure};

    fn run<F: Future>(future: F) -> F::Output {
        future.now_or_never().expect("the fakes never wait")
    }

    #[derive(Default)]
    struct MapCache(Mutex<HashMap<String, Vec<u8>>>);

    #[async_trait]
    impl Cache for MapCache {
        async fn get(&self, key: &str) -> Option<Vec<u8>> {
            self.0.lock().unwrap().get(key).cloned()
        }

        async fn set(&self, key: &str, value: &[u8], _ttl_ms: u64) {
            self.0
                .lock()
                .unwrap()
                .insert(key.to_owned(), value.to_vec());
        }

        async fn delete(&self, key: &str) {
            self.0.lock().unwrap().remove(key);
        }

        fn health(&self) -> CacheHealth {
            CacheHealth::ok("memory")
        }
    }

    /// Photos by session; counts status reads; the session `broken` fails.
    #[derive(Default)]
    struct CountingStore {
        photos: Mutex<HashMap<String, Vec<IndexedPhoto>>>,
        status_calls: AtomicUsize,
    }

    #[async_trait]
    impl CollectionStore for CountingStore {
        async fn insert_photo(&self, photo: &IndexedPhoto) -> Result<(IndexedPhoto, bool)> {
            let mut photos = self.photos.lock().unwrap();
            let session = photos.entry(photo.session_id.clone()).or_default();
            if let Some(old) = session.iter().find(|p| p.photo_id == photo.photo_id) {
                return Ok((old.clone(), false));
            }
            session.push(photo.clone());
            Ok((photo.clone(), true))
        }

        async fn photo(&self, _session_id: &str, _photo_id: &str) -> Result<Option<IndexedPhoto>> {
            unimplemented!()
        }

        async fn status(&self, session_id: &str) -> Result<SessionStatus> {
            self.status_calls.fetch_add(1, Ordering::SeqCst);
            if session_id == "broken" {
                return Err(Failure::new(ErrorCode::Internal, "store down"));
            }
            let photos = self.photos.lock().unwrap();
            let session = photos.get(session_id).map_or(&[][..], Vec::as_slice);
            Ok(SessionStatus {
                session_id: session_id.to_owned(),
                indexed_photos: session.len(),
                indexed_faces: 0,
                last_indexed_at: session.iter().map(|p| p.indexed_at).max(),
            })
        }

        async fn delete_session(&self, session_id: &str) -> Result<usize> {
            let removed = self.photos.lock().unwrap().remove(session_id);
            Ok(removed.map_or(0, |p| p.len()))
        }

        async fn search(
            &self,
            _session_id: &str,
            _probe: &Embedding,
            _threshold: f32,
            _limit: usize,
        ) -> Result<Vec<PhotoMatch>> {
            unimplemented!()
        }
    }

    fn photo(session: &str, id: &str, at: i64) -> IndexedPhoto {
        IndexedPhoto {
            session_id: session.into(),
            photo_id: id.into(),
            faces: Vec::new(),
            indexed_at: at,
        }
    }

    fn setup() -> (Arc<CountingStore>, Arc<MapCache>, CachedCollections) {
        let store = Arc::new(CountingStore::default());
        let cache = Arc::new(MapCache::default());
        let cached = CachedCollections::new(store.clone(), cache.clone(), 5_000);
        (store, cache, cached)
    }

    #[test]
    fn status_is_cached_until_a_new_photo_arrives() {
        let (store, cache, cached) = setup();
        run(cached.insert_photo(&photo("s1", "p1", 10))).unwrap();
        assert_eq!(run(cached.status("s1")).unwrap().indexed_photos, 1);
        assert_eq!(run(cached.status("s1")).unwrap().indexed_photos, 1);
        assert_eq!(store.status_calls.load(Ordering::SeqCst), 1);
        assert!(cache.0.lock().unwrap().contains_key("session-status:s1"));

        // The same photo again changes nothing and keeps the entry.
        let (_, new) = run(cached.insert_photo(&photo("s1", "p1", 10))).unwrap();
        assert!(!new);
        run(cached.status("s1")).unwrap();
        assert_eq!(store.status_calls.load(Ordering::SeqCst), 1);

        // Another session's photo leaves this entry alone.
        run(cached.insert_photo(&photo("s2", "p1", 11))).unwrap();
        run(cached.status("s1")).unwrap();
        assert_eq!(store.status_calls.load(Ordering::SeqCst), 1);

        run(cached.insert_photo(&photo("s1", "p2", 12))).unwrap();
        let status = run(cached.status("s1")).unwrap();
        assert_eq!(store.status_calls.load(Ordering::SeqCst), 2);
        assert_eq!(status.indexed_photos, 2);
        assert_eq!(status.last_indexed_at, Some(12));
    }

    #[test]
    fn deleting_the_session_drops_its_status() {
        let (store, _, cached) = setup();
        run(cached.insert_photo(&photo("s1", "p1", 10))).unwrap();
        run(cached.status("s1")).unwrap();
        assert_eq!(run(cached.delete_session("s1")).unwrap(), 1);
        assert_eq!(run(cached.status("s1")).unwrap().indexed_photos, 0);
        assert_eq!(store.status_calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn errors_and_foreign_entries_are_not_served() {
        let (store, cache, cached) = setup();
        assert!(run(cached.status("broken")).is_err());
        assert!(run(cached.status("broken")).is_err());
        assert_eq!(store.status_calls.load(Ordering::SeqCst), 2);
        assert!(cache.0.lock().unwrap().is_empty());

        let other = serde_json::to_vec(&SessionStatus {
            session_id: "other".into(),
            indexed_photos: 9,
            indexed_faces: 9,
            last_indexed_at: None,
        })
        .unwrap();
        run(cache.set("session-status:s1", &other, 1));
        assert_eq!(run(cached.status("s1")).unwrap().indexed_photos, 0);
        run(cache.set("session-status:s1", b"garbage", 1));
        assert_eq!(run(cached.status("s1")).unwrap().indexed_photos, 0);
        assert_eq!(store.status_calls.load(Ordering::SeqCst), 4);
    }
}
