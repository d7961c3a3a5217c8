//! The Redis adapters against a real `redis-server` that each test starts on its own free
//! port: shared rate-limit windows, expiry, an outage in the middle and the recovery.
//!
//! Skipped (with a note) when `redis-server` is missing, unless
//! `FACEGATE_REQUIRE_SERVICES=1`.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use facegate_cache::{RedisCache, RedisClient, RedisOptions, RedisRateLimiter};
use facegate_core::model::Timestamp;
use facegate_core::ports::{Cache, Clock, RateLimiter};

fn redis_server_binary() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join("redis-server"));
    for path in candidates {
        if path.is_file() {
            return Some(path);
        }
    }
    assert!(
        std::env::var("FACEGATE_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "redis-server is missing and FACEGATE_REQUIRE_SERVICES=1"
    );
    eprintln!("note: redis-server not found; skipping the Redis tests");
    None
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A `redis-server` of this test only, stopped when dropped.
struct Server {
    binary: PathBuf,
    port: u16,
    /// A folder with `ca.pem`, `server.pem` and `server.key`: TLS only, on `port`.
    tls: Option<PathBuf>,
    child: Option<Child>,
}

impl Server {
    /// `None` when the tests are skipped.
    fn start() -> Option<Self> {
        Self::start_with(None)
    }

    /// A server that speaks TLS only, with a certificate from a throwaway CA (in `dir`).
    fn start_tls(dir: PathBuf) -> Option<Self> {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/test-tls-certs.sh"
        );
        let made = Command::new(script).arg(&dir).status().unwrap();
        assert!(made.success(), "{script} failed");
        Self::start_with(Some(dir))
    }

    fn start_with(tls: Option<PathBuf>) -> Option<Self> {
        let mut server = Self {
            binary: redis_server_binary()?,
            port: free_port(),
            tls,
            child: None,
        };
        server.restart();
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let port = self.port.to_string();
        let listen = match &self.tls {
            None => vec!["--port".into(), port],
            Some(dir) => {
                let file = |name: &str| dir.join(name).display().to_string();
                vec![
                    "--port".into(),
                    "0".into(),
                    "--tls-port".into(),
                    port,
                    "--tls-cert-file".into(),
                    file("server.pem"),
                    "--tls-key-file".into(),
                    file("server.key"),
                    "--tls-ca-cert-file".into(),
                    file("ca.pem"),
                    "--tls-auth-clients".into(),
                    "no".into(),
                ]
            }
        };
        let child = Command::new(&self.binary)
            .args(listen)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// A plain connection, to look at what the adapters wrote.
    async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0.load(Ordering::SeqCst)
    }
}

fn fast_options() -> RedisOptions {
    RedisOptions {
        retry_after: Duration::from_millis(100),
        ..RedisOptions::default()
    }
}

/// Retries `check` for a few seconds (recovery waits for the breaker's next probe).
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn two_replicas_share_one_window() {
    let Some(server) = Server::start() else {
        return;
    };
    // 12 s into a minute.
    let now = 1_700_000_040_000 + 12_000;
    let start = now - now % 60_000;
    let clock = Arc::new(ManualClock(AtomicI64::new(now)));
    let a = RedisRateLimiter::connect(&server.url(), fast_options(), clock.clone())
        .await
        .unwrap();
    let b = RedisRateLimiter::connect(&server.url(), fast_options(), clock.clone())
        .await
        .unwrap();

    let replicas = [&a, &b, &a];
    for (i, replica) in replicas.into_iter().enumerate() {
        let d = replica.hit("key:1", 3, 60_000).await.unwrap();
        assert!(d.allowed, "hit {}", i + 1);
        assert_eq!(d.limit, 3);
        assert_eq!(d.remaining, 2 - i as u32);
        assert_eq!(d.reset_ms, 48_000);
    }
    let over = b.hit("key:1", 3, 60_000).await.unwrap();
    assert!(!over.allowed, "the 4th hit is over the shared limit");
    assert_eq!(over.remaining, 0);
    assert_eq!(over.reset_ms, 48_000);
    assert!(a.hit("key:2", 3, 60_000).await.unwrap().allowed);
    // Several hits at once (a batch's photos) count together, or not at all.
    assert!(b.hit_many("key:3", 3, 3, 60_000).await.unwrap().allowed);
    let batch = a.hit_many("key:3", 2, 3, 60_000).await.unwrap();
    assert_eq!((batch.allowed, batch.remaining), (false, 0));

    let mut raw = server.raw().await;
    let key = format!("rl:key:1:{start}");
    let count: i64 = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(count, 3, "the refused hit is not counted");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");

    clock.0.store(start + 60_000, Ordering::SeqCst);
    let next = a.hit("key:1", 3, 60_000).await.unwrap();
    assert!(next.allowed, "a new window");
    assert_eq!((next.remaining, next.reset_ms), (2, 60_000));
    assert!(!a.health().degraded && !b.health().degraded);
}

#[tokio::test]
async fn cache_sets_gets_deletes_and_expires() {
    let Some(server) = Server::start() else {
        return;
    };
    let cache = RedisCache::connect(&server.url(), RedisOptions::default())
        .await
        .unwrap();
    let health = cache.health();
    assert_eq!(health.kind, "redis");
    assert!(!health.degraded, "{health:?}");
    assert_eq!(cache.get("k").await, None);

    let value = [0u8, 159, 146, 150, 255];
    cache.set("k", &value, 60_000).await;
    assert_eq!(cache.get("k").await.as_deref(), Some(&value[..]));
    cache.set("k", b"again", 60_000).await;
    assert_eq!(cache.get("k").await.as_deref(), Some(&b"again"[..]));
    cache.delete("k").await;
    assert_eq!(cache.get("k").await, None);

    cache.set("short", b"v", 150).await;
    assert_eq!(cache.get("short").await.as_deref(), Some(&b"v"[..]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cache.get("short").await, None, "expired");

    // The prefix is part of the key.
    let options = RedisOptions {
        key_prefix: "tenant-a:".into(),
        ..RedisOptions::default()
    };
    let prefixed = RedisCache::connect(&server.url(), options).await.unwrap();
    prefixed.set("k", b"p", 60_000).await;
    assert_eq!(cache.get("tenant-a:k").await.as_deref(), Some(&b"p"[..]));
    assert_eq!(cache.get("k").await, None);
}

#[tokio::test]
async fn an_outage_degrades_and_the_restart_recovers() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let now = 1_700_000_040_000;
    let clock = Arc::new(ManualClock(AtomicI64::new(now)));
    let client = RedisClient::connect(&server.url(), fast_options())
        .await
        .unwrap();
    let cache = RedisCache::new(client.clone());
    let limiter = RedisRateLimiter::new(client.clone(), clock);
    cache.set("k", b"v", 60_000).await;
    assert!(limiter.hit("ip:1", 3, 60_000).await.unwrap().allowed);
    assert!(limiter.hit("ip:1", 3, 60_000).await.unwrap().allowed);
    assert!(!cache.health().degraded);

    server.kill();
    let started = Instant::now();
    assert_eq!(cache.get("k").await, None, "a miss, not an error");
    cache.set("k2", b"v", 60_000).await;
    cache.delete("k").await;
    let health = cache.health();
    assert!(health.degraded, "{health:?}");
    assert!(health.error.is_some());
    assert!(limiter.health().degraded);
    // The local count goes on from this replica's earlier hits.
    let third = limiter.hit("ip:1", 3, 60_000).await.unwrap();
    assert!(third.allowed);
    assert_eq!(third.remaining, 0);
    let over = limiter.hit("ip:1", 3, 60_000).await.unwrap();
    assert!(!over.allowed, "still limited without Redis");
    assert_eq!(over.reset_ms, 60_000);
    for _ in 0..50 {
        assert_eq!(cache.get("k").await, None);
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a dead Redis is cheap: {:?}",
        started.elapsed()
    );

    server.restart();
    eventually("the cache recovers", async || {
        cache.set("k3", b"back", 60_000).await;
        cache.get("k3").await.as_deref() == Some(&b"back"[..])
    })
    .await;
    let health = cache.health();
    assert!(!health.degraded, "{health:?}");
    assert_eq!(health.error, None);
    // The new server starts empty: the window is counted in Redis again.
    let d = limiter.hit("ip:1", 3, 60_000).await.unwrap();
    assert!(d.allowed);
    assert_eq!(d.remaining, 2);
    assert!(!limiter.health().degraded);
}

#[tokio::test]
async fn starts_degraded_when_redis_is_down_and_connects_later() {
    let Some(mut server) = Server::start() else {
        return;
    };
    server.kill();
    let cache = RedisCache::connect(&server.url(), fast_options())
        .await
        .expect("an unreachable Redis is not a start-up error");
    assert!(cache.health().degraded);
    assert_eq!(cache.get("k").await, None);

    server.restart();
    eventually("the cache connects", async || cache.client().ping().await).await;
    cache.set("k", b"v", 60_000).await;
    assert_eq!(cache.get("k").await.as_deref(), Some(&b"v"[..]));
    assert!(!cache.health().degraded);
}

#[tokio::test]
async fn a_malformed_url_is_refused() {
    for url in ["not a url", "http://127.0.0.1:6379/"] {
        let err = RedisCache::connect(url, RedisOptions::default()).await;
        assert!(err.is_err(), "{url}");
    }
}

/// `rediss://`: the cache works over TLS with the server's CA configured; without it (the
/// system's roots) or over plain TCP the server cannot be used, and the adapters say so
/// by running degraded.
#[tokio::test]
async fn a_rediss_url_with_the_servers_ca_works_over_tls() {
    let dir = std::env::temp_dir().join(format!("facegate-redis-tls-{}", std::process::id()));
    let Some(server) = Server::start_tls(dir.clone()) else {
        return;
    };
    // The process's TLS provider, as `facegate` installs it at start.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("rediss://127.0.0.1:{}/", server.port);
    let options = RedisOptions {
        tls_ca: Some(std::fs::read(dir.join("ca.pem")).unwrap()),
        ..fast_options()
    };
    let client = RedisClient::connect(&url, options).await.unwrap();
    let cache = RedisCache::new(client.clone());
    cache.set("k", b"over tls", 60_000).await;
    assert_eq!(cache.get("k").await.as_deref(), Some(&b"over tls"[..]));
    assert!(!client.health().degraded, "{:?}", client.health());

    for (url, what) in [
        (url.as_str(), "the system's roots do not know the test CA"),
        (
            &format!("redis://127.0.0.1:{}/", server.port)[..],
            "plain TCP",
        ),
    ] {
        let client = RedisClient::connect(url, fast_options()).await.unwrap();
        assert!(client.health().degraded, "{what}");
    }
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}
