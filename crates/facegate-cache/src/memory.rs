//! [`MemoryCache`]: a bounded in-process [`Cache`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use facegate_core::ports::{Cache, CacheHealth};
use parking_lot::Mutex;

struct Entry {
    value: Vec<u8>,
    expires_at: Instant,
    /// Which write this is, to tell it from an older write of the same key in `order`.
    seq: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Writes, oldest first; an item whose `seq` no longer matches its entry is stale.
    order: VecDeque<(u64, String)>,
    next_seq: u64,
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= key.len() + old.value.len();
        }
    }

    /// Drops the oldest writes until the bounds hold.
    fn evict(&mut self, max_entries: usize, max_bytes: usize) {
        while self.entries.len() > max_entries || self.bytes > max_bytes {
            let Some((seq, key)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&key).is_some_and(|e| e.seq == seq) {
                self.remove(&key);
            }
        }
        // Rewrites of the same keys leave stale items behind; keep `order` proportional.
        if self.order.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.order
                .retain(|(seq, key)| entries.get(key).is_some_and(|e| e.seq == *seq));
        }
    }
}

/// Bytes by key in this process, bounded in entries and bytes (the oldest writes go
/// first; expired entries are dropped when read or pushed out).
pub struct MemoryCache {
    max_entries: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.lock();
        f.debug_struct("MemoryCache")
            .field("entries", &inner.entries.len())
            .field("bytes", &inner.bytes)
            .finish_non_exhaustive()
    }
}

impl MemoryCache {
    /// At most `max_entries` entries and `max_bytes` bytes of keys and values.
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            max_entries,
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut inner = self.inner.lock();
        let entry = inner.entries.get(key)?;
        if entry.expires_at > Instant::now() {
            return Some(entry.value.clone());
        }
        inner.remove(key);
        None
    }

    async fn set(&self, key: &str, value: &[u8], ttl_ms: u64) {
        let size = key.len() + value.len();
        let mut inner = self.inner.lock();
        inner.remove(key);
        if size > self.max_bytes || self.max_entries == 0 {
            return;
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let expires_at = Instant::now() + Duration::from_millis(ttl_ms.max(1));
        let entry = Entry {
            value: value.to_vec(),
            expires_at,
            seq,
        };
        inner.entries.insert(key.to_owned(), entry);
        inner.order.push_back((seq, key.to_owned()));
        inner.bytes += size;
        inner.evict(self.max_entries, self.max_bytes);
    }

    async fn delete(&self, key: &str) {
        self.inner.lock().remove(key);
    }

    fn health(&self) -> CacheHealth {
        CacheHealth::ok("memory")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_deletes_and_expires() {
        let cache = MemoryCache::new(10, 1 << 20);
        cache.set("a", b"1", 60_000).await;
        cache.set("b", b"2", 20).await;
        assert_eq!(cache.get("a").await.as_deref(), Some(&b"1"[..]));
        assert_eq!(cache.get("b").await.as_deref(), Some(&b"2"[..]));
        cache.set("a", b"one", 60_000).await;
        assert_eq!(cache.get("a").await.as_deref(), Some(&b"one"[..]));
        cache.delete("a").await;
        assert_eq!(cache.get("a").await, None);
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(cache.get("b").await, None);
        assert!(cache.is_empty());
        assert_eq!(cache.inner.lock().bytes, 0);
        assert!(!cache.health().degraded);
    }

    #[tokio::test]
    async fn stays_within_its_bounds_dropping_the_oldest() {
        let cache = MemoryCache::new(3, 1 << 20);
        for key in ["a", "b", "c", "a", "d"] {
            cache.set(key, key.as_bytes(), 60_000).await;
        }
        // "b" was the oldest write left once "a" was written again.
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("b").await, None);
        for key in ["a", "c", "d"] {
            assert!(cache.get(key).await.is_some(), "{key}");
        }

        let cache = MemoryCache::new(100, 10);
        cache.set("k1", b"1234", 60_000).await;
        cache.set("k2", b"1234", 60_000).await;
        assert_eq!(cache.get("k1").await, None, "12 bytes > 10");
        assert!(cache.get("k2").await.is_some());
        cache.set("big", b"too large to keep", 60_000).await;
        assert_eq!(cache.get("big").await, None);
        assert_eq!(cache.inner.lock().bytes, 6);
    }

    #[tokio::test]
    async fn rewriting_one_key_does_not_grow_without_bound() {
        let cache = MemoryCache::new(10, 1 << 20);
        for i in 0..1_000u32 {
            cache.set("same", &i.to_le_bytes(), 60_000).await;
        }
        assert_eq!(cache.len(), 1);
        assert!(cache.inner.lock().order.len() <= 66);
        assert_eq!(cache.get("same").await, Some(999u32.to_le_bytes().to_vec()));
    }
}
