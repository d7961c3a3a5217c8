//! [`CachedEngine`]: embeddings kept by the hash of the image they came from.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::face::{Embedding, FaceDetection, ModelId};
use crate::failure::Result;
use crate::ports::{Cache, DetectedFaces, EmbeddedFace, FaceEngine, FaceReport, Sealer, Symmetry};

/// A [`FaceEngine`] whose `embed_main` and `embed_all` results are cached by
/// `emb:<model_id>:<pipeline>:<op>:<sha256 of the image bytes>`, so an image seen before
/// skips inference; `pipeline` fingerprints the detection settings (threshold, sizes,
/// ...), which change the faces found without changing the model id. Values are sealed with the [`Sealer`] (embeddings are personal data, and
/// encryption at rest covers the cache). Errors are not cached; the other methods call
/// the engine every time.
pub struct CachedEngine {
    inner: Arc<dyn FaceEngine>,
    pipeline: String,
    cache: Arc<dyn Cache>,
    sealer: Arc<dyn Sealer>,
    ttl_ms: u64,
}

debug_ports!(CachedEngine);

impl CachedEngine {
    /// Cached results live `ttl_ms` milliseconds.
    pub fn new(
        inner: Arc<dyn FaceEngine>,
        pipeline: impl Into<String>,
        cache: Arc<dyn Cache>,
        sealer: Arc<dyn Sealer>,
        ttl_ms: u64,
    ) -> Self {
        Self {
            inner,
            pipeline: pipeline.into(),
            cache,
            sealer,
            ttl_ms,
        }
    }

    /// The model id and the pipeline are in the key, so neither a model change nor a
    /// detector setting's change serves old results.
    fn key(&self, op: &str, image: &[u8]) -> String {
        let digest = Sha256::digest(image);
        format!(
            "emb:{}:{}:{op}:{digest:x}",
            self.inner.model_id(),
            self.pipeline
        )
    }

    /// A cached value; an entry that cannot be opened or parsed (a retired key, another
    /// version's format) is a miss and gets overwritten.
    async fn lookup<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let sealed = self.cache.get(key).await?;
        let plain = self.sealer.open(&sealed).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// Not storing is always safe, so a value that cannot be sealed is simply not kept.
    async fn store<T: Serialize>(&self, key: &str, value: &T) {
        let Ok(plain) = serde_json::to_vec(value) else {
            return;
        };
        let Ok(sealed) = self.sealer.seal(&plain) else {
            return;
        };
        self.cache.set(key, &sealed, self.ttl_ms).await;
    }
}

#[async_trait]
impl FaceEngine for CachedEngine {
    fn model_id(&self) -> ModelId {
        self.inner.model_id()
    }

    fn check_image(&self, image: &[u8]) -> Result<()> {
        self.inner.check_image(image)
    }

    async fn detect(&self, image: Vec<u8>) -> Result<DetectedFaces> {
        self.inner.detect(image).await
    }

    async fn embed_all(&self, image: Vec<u8>) -> Result<Vec<EmbeddedFace>> {
        let key = self.key("all", &image);
        if let Some(hit) = self.lookup(&key).await {
            return Ok(hit);
        }
        let faces = self.inner.embed_all(image).await?;
        self.store(&key, &faces).await;
        Ok(faces)
    }

    async fn embed_main(&self, image: Vec<u8>) -> Result<(EmbeddedFace, usize)> {
        let key = self.key("main", &image);
        if let Some(hit) = self.lookup(&key).await {
            return Ok(hit);
        }
        let main = self.inner.embed_main(image).await?;
        self.store(&key, &main).await;
        Ok(main)
    }

    async fn liveness(&self, image: Vec<u8>) -> Result<(FaceDetection, f32)> {
        self.inner.liveness(image).await
    }

    async fn analyze(&self, image: Vec<u8>) -> Result<Vec<FaceReport>> {
        self.inner.analyze(image).await
    }

    async fn challenge_frame(&self, image: Vec<u8>) -> Result<crate::challenge::FrameReport> {
        self.inner.challenge_frame(image).await
    }

    async fn symmetry(&self, image: Vec<u8>) -> Result<(FaceDetection, Symmetry)> {
        self.inner.symmetry(image).await
    }

    async fn embed_all_with_crops(&self, image: Vec<u8>) -> Result<Vec<(EmbeddedFace, Vec<u8>)>> {
        self.inner.embed_all_with_crops(image).await
    }

    async fn embed_crops(&self, crops: Vec<Vec<u8>>) -> Result<Vec<Embedding>> {
        self.inner.embed_crops(crops).await
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
    use crate::{BoundingBox, ErrorCode, Failure, Landmarks5};

    /// The fakes never wait, so every future completes on its first poll.
    fn run<F: Future>(future: F) -> F::Output {
        future.now_or_never().expect("the fakes never wait")
    }

    /// Keeps what it is given (and the TTL) so tests can look at the stored bytes.
    #[derive(Default)]
    struct MapCache(Mutex<HashMap<String, (Vec<u8>, u64)>>);

    impl MapCache {
        fn stored(&self) -> HashMap<String, (Vec<u8>, u64)> {
            self.0.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl Cache for MapCache {
        async fn get(&self, key: &str) -> Option<Vec<u8>> {
            self.0.lock().unwrap().get(key).map(|(v, _)| v.clone())
        }

        async fn set(&self, key: &str, value: &[u8], ttl_ms: u64) {
            let entry = (value.to_vec(), ttl_ms);
            self.0.lock().unwrap().insert(key.to_owned(), entry);
        }

        async fn delete(&self, key: &str) {
            self.0.lock().unwrap().remove(key);
        }

        fn health(&self) -> CacheHealth {
            CacheHealth::ok("memory")
        }
    }

    const SEAL_PREFIX: &[u8] = b"sealed:";

    /// Prefixes and XORs, so a stored plain value is easy to spot.
    struct XorSealer;

    impl Sealer for XorSealer {
        fn key_id(&self) -> Option<&str> {
            Some("test")
        }

        fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
            let mut out = SEAL_PREFIX.to_vec();
            out.extend(plain.iter().map(|b| b ^ 0x5a));
            Ok(out)
        }

        fn open(&self, data: &[u8]) -> Result<Vec<u8>> {
            let body = data
                .strip_prefix(SEAL_PREFIX)
                .ok_or_else(|| Failure::internal("not sealed"))?;
            Ok(body.iter().map(|b| b ^ 0x5a).collect())
        }
    }

    /// Counts calls; the embedding depends on the image bytes, and an empty image has no
    /// face.
    #[derive(Default)]
    struct CountingEngine {
        embed_main: AtomicUsize,
        embed_all: AtomicUsize,
        detect: AtomicUsize,
    }

    fn face(image: &[u8], index: usize) -> Result<EmbeddedFace> {
        let last = *image
            .last()
            .ok_or_else(|| Failure::new(ErrorCode::FaceNotFound, "no face"))?;
        let embedding = Embedding::from_raw(
            ModelId("test-model@1".into()),
            vec![f32::from(last), 1.0, index as f32],
        )
        .unwrap();
        Ok(EmbeddedFace {
            face: FaceDetection {
                bbox: BoundingBox::new(1.0, 2.0, 30.0, 40.0),
                score: 0.9,
                landmarks: Landmarks5::default(),
            },
            embedding,
            quality: 0.75,
        })
    }

    #[async_trait]
    impl FaceEngine for CountingEngine {
        fn model_id(&self) -> ModelId {
            ModelId("test-model@1".into())
        }

        fn check_image(&self, _image: &[u8]) -> Result<()> {
            Ok(())
        }

        async fn detect(&self, _image: Vec<u8>) -> Result<DetectedFaces> {
            self.detect.fetch_add(1, Ordering::SeqCst);
            Ok(DetectedFaces {
                width: 1,
                height: 1,
                faces: Vec::new(),
            })
        }

        async fn embed_all(&self, image: Vec<u8>) -> Result<Vec<EmbeddedFace>> {
            self.embed_all.fetch_add(1, Ordering::SeqCst);
            Ok(vec![face(&image, 0)?, face(&image, 1)?])
        }

        async fn embed_main(&self, image: Vec<u8>) -> Result<(EmbeddedFace, usize)> {
            self.embed_main.fetch_add(1, Ordering::SeqCst);
            Ok((face(&image, 0)?, 2))
        }

        async fn liveness(&self, _image: Vec<u8>) -> Result<(FaceDetection, f32)> {
            unimplemented!()
        }

        async fn analyze(&self, _image: Vec<u8>) -> Result<Vec<FaceReport>> {
            unimplemented!()
        }

        async fn challenge_frame(&self, _image: Vec<u8>) -> Result<crate::challenge::FrameReport> {
            unimplemented!()
        }

        async fn symmetry(&self, _image: Vec<u8>) -> Result<(FaceDetection, Symmetry)> {
            unimplemented!()
        }

        async fn embed_all_with_crops(
            &self,
            _image: Vec<u8>,
        ) -> Result<Vec<(EmbeddedFace, Vec<u8>)>> {
            unimplemented!()
        }

        async fn embed_crops(&self, _crops: Vec<Vec<u8>>) -> Result<Vec<Embedding>> {
            unimplemented!()
        }
    }

    fn setup() -> (Arc<CountingEngine>, Arc<MapCache>, CachedEngine) {
        let engine = Arc::new(CountingEngine::default());
        let cache = Arc::new(MapCache::default());
        let cached = CachedEngine::new(
            engine.clone(),
            "pipeline1",
            cache.clone(),
            Arc::new(XorSealer),
            60_000,
        );
        (engine, cache, cached)
    }

    #[test]
    fn an_image_seen_before_skips_inference() {
        let (engine, _, cached) = setup();
        let first = run(cached.embed_main(b"image-a".to_vec())).unwrap();
        let again = run(cached.embed_main(b"image-a".to_vec())).unwrap();
        assert_eq!(engine.embed_main.load(Ordering::SeqCst), 1);
        assert_eq!(first, again);
        let other = run(cached.embed_main(b"image-b".to_vec())).unwrap();
        assert_eq!(engine.embed_main.load(Ordering::SeqCst), 2);
        assert_ne!(first.0.embedding, other.0.embedding);

        let all = run(cached.embed_all(b"image-a".to_vec())).unwrap();
        assert_eq!(engine.embed_all.load(Ordering::SeqCst), 1, "own key per op");
        assert_eq!(all.len(), 2);
        assert_eq!(run(cached.embed_all(b"image-a".to_vec())).unwrap(), all);
        assert_eq!(engine.embed_all.load(Ordering::SeqCst), 1);
        assert_eq!(engine.embed_main.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn keys_name_the_model_the_pipeline_the_op_and_the_image_hash() {
        let (_, cache, cached) = setup();
        run(cached.embed_main(b"abc".to_vec())).unwrap();
        run(cached.embed_all(b"abc".to_vec())).unwrap();
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let mut keys: Vec<_> = cache.stored().into_keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                format!("emb:test-model@1:pipeline1:all:{sha}"),
                format!("emb:test-model@1:pipeline1:main:{sha}"),
            ]
        );
    }

    #[test]
    fn stored_values_are_sealed_and_carry_the_ttl() {
        let (_, cache, cached) = setup();
        let result = run(cached.embed_main(b"image-a".to_vec())).unwrap();
        let stored = cache.stored();
        let (bytes, ttl) = stored.values().next().unwrap();
        assert_eq!(*ttl, 60_000);
        assert!(bytes.starts_with(SEAL_PREFIX));
        assert!(serde_json::from_slice::<serde_json::Value>(bytes).is_err());
        let plain = XorSealer.open(bytes).unwrap();
        let parsed: (EmbeddedFace, usize) = serde_json::from_slice(&plain).unwrap();
        assert_eq!(parsed, result);
    }

    #[test]
    fn errors_are_not_cached() {
        let (engine, cache, cached) = setup();
        for _ in 0..2 {
            let err = run(cached.embed_main(Vec::new())).unwrap_err();
            assert_eq!(err.code, ErrorCode::FaceNotFound);
            assert!(run(cached.embed_all(Vec::new())).is_err());
        }
        assert_eq!(engine.embed_main.load(Ordering::SeqCst), 2);
        assert_eq!(engine.embed_all.load(Ordering::SeqCst), 2);
        assert!(cache.stored().is_empty());
    }

    #[test]
    fn an_unreadable_entry_is_a_miss_and_is_replaced() {
        let (engine, cache, cached) = setup();
        let key = cached.key("main", b"image-a");
        run(cache.set(&key, b"not sealed", 1));
        let result = run(cached.embed_main(b"image-a".to_vec())).unwrap();
        assert_eq!(engine.embed_main.load(Ordering::SeqCst), 1);
        run(cache.set(&key, &XorSealer.seal(b"{not json").unwrap(), 1));
        assert_eq!(run(cached.embed_main(b"image-a".to_vec())).unwrap(), result);
        assert_eq!(engine.embed_main.load(Ordering::SeqCst), 2);
        assert_eq!(run(cached.embed_main(b"image-a".to_vec())).unwrap(), result);
        assert_eq!(engine.embed_main.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn other_methods_are_not_cached() {
        let (engine, cache, cached) = setup();
        run(cached.detect(b"image-a".to_vec())).unwrap();
        run(cached.detect(b"image-a".to_vec())).unwrap();
        assert_eq!(engine.detect.load(Ordering::SeqCst), 2);
        assert!(cache.stored().is_empty());
        assert_eq!(cached.model_id(), ModelId("test-model@1".into()));
    }
}
