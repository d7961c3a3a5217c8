//! The shared Redis connection: short timeouts, a health state, and a breaker that skips
//! Redis for a while after it failed, so a dead Redis costs a request almost nothing.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use facegate_core::ports::CacheHealth;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RedisResult};

/// How to talk to Redis.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Longest wait for a new connection.
    pub connect_timeout: Duration,
    /// Longest wait for a command's answer.
    pub response_timeout: Duration,
    /// After Redis could not be reached, calls skip it (miss, no-op, local rate limit)
    /// for this long before one call tries again.
    pub retry_after: Duration,
    /// While Redis stays unreachable, the warning is repeated at most this often.
    pub warn_every: Duration,
    /// Put before every key, so several deployments can share one Redis.
    pub key_prefix: String,
    /// For a `rediss://` URL: the CA that signed the server's certificate (PEM), instead
    /// of the system's roots.
    pub tls_ca: Option<Vec<u8>>,
    /// For a `rediss://` URL: a client certificate and its key (PEM), where the server
    /// asks for one.
    pub tls_client: Option<(Vec<u8>, Vec<u8>)>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_millis(300),
            response_timeout: Duration::from_millis(300),
            retry_after: Duration::from_secs(1),
            warn_every: Duration::from_mins(1),
            key_prefix: String::new(),
            tls_ca: None,
            tls_client: None,
        }
    }
}

/// Redis could not be set up; an unreachable server is not this (it is a degraded state).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
}

#[derive(Debug, Default)]
struct State {
    degraded: bool,
    error: Option<String>,
    /// While set and in the future, calls do not try Redis.
    retry_at: Option<Instant>,
    last_warning: Option<Instant>,
}

struct Shared {
    manager: ConnectionManager,
    options: RedisOptions,
    state: Mutex<State>,
}

/// A connection to Redis shared by the adapters of one process ([`crate::RedisCache`],
/// [`crate::RedisRateLimiter`]); cheap to clone. Reconnects by itself.
#[derive(Clone)]
pub struct RedisClient {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClient")
            .field("health", &self.health())
            .finish_non_exhaustive()
    }
}

/// The server was not reached (as opposed to an answer that was an error).
fn is_unreachable(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_unrecoverable_error()
}

impl RedisClient {
    /// Sets up the connection and tries it once. Only a malformed URL is an error: when
    /// Redis is down the client starts degraded and connects when Redis is back. Must be
    /// called inside a Tokio runtime; a `rediss://` URL needs the process's rustls crypto
    /// provider installed (`facegate` installs ring at start).
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, ConnectError> {
        let client = if options.tls_ca.is_some() || options.tls_client.is_some() {
            let certificates = redis::TlsCertificates {
                client_tls: options.tls_client.clone().map(|(client_cert, client_key)| {
                    redis::ClientTlsConfig {
                        client_cert,
                        client_key,
                    }
                }),
                root_cert: options.tls_ca.clone(),
            };
            redis::Client::build_with_tls(url, certificates)
        } else {
            redis::Client::open(url)
        }
        .map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
        // No retries inside the manager: a failed call must fail fast, and the next call
        // (after `retry_after`) reconnects anyway.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.response_timeout))
            .set_number_of_retries(0);
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
        let this = Self {
            shared: Arc::new(Shared {
                manager,
                options,
                state: Mutex::new(State::default()),
            }),
        };
        this.ping().await;
        Ok(this)
    }

    /// Whether Redis answers now (false without trying while the breaker is open).
    pub async fn ping(&self) -> bool {
        let cmd = &redis::cmd("PING");
        self.run("ping", |mut c| async move {
            cmd.query_async::<()>(&mut c).await
        })
        .await
        .is_some()
    }

    pub fn health(&self) -> CacheHealth {
        let state = self.shared.state.lock();
        CacheHealth {
            kind: "redis",
            degraded: state.degraded,
            error: state.error.clone(),
        }
    }

    /// `key` with the configured prefix.
    pub(crate) fn key(&self, key: &str) -> String {
        format!("{}{key}", self.shared.options.key_prefix)
    }

    /// Runs `call` on the connection within the timeouts; `None` when Redis failed or is
    /// being skipped. A dropped connection gets one more try on the new one, so a Redis
    /// restart between two calls is not an outage.
    pub(crate) async fn run<T, F, Fut>(&self, operation: &'static str, call: F) -> Option<T>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if !self.may_try() {
            return None;
        }
        let options = &self.shared.options;
        let attempts = async {
            match call(self.shared.manager.clone()).await {
                Err(e) if is_unreachable(&e) => call(self.shared.manager.clone()).await,
                result => result,
            }
        };
        let deadline = options.connect_timeout + options.response_timeout;
        match tokio::time::timeout(deadline, attempts).await {
            Ok(Ok(value)) => {
                self.succeeded();
                Some(value)
            }
            Ok(Err(e)) => {
                self.failed(operation, &e.to_string(), is_unreachable(&e));
                None
            }
            Err(_) => {
                self.failed(operation, "timed out", true);
                None
            }
        }
    }

    /// False while the breaker is open; once it is due, lets one call through and keeps
    /// the others away until that call's outcome is known.
    fn may_try(&self) -> bool {
        let mut state = self.shared.state.lock();
        match state.retry_at {
            None => true,
            Some(at) => {
                let now = Instant::now();
                if now < at {
                    return false;
                }
                state.retry_at = Some(now + self.shared.options.retry_after);
                true
            }
        }
    }

    fn succeeded(&self) {
        let mut state = self.shared.state.lock();
        if state.degraded {
            tracing::info!("redis is reachable again");
        }
        *state = State::default();
    }

    fn failed(&self, operation: &'static str, error: &str, unreachable: bool) {
        let now = Instant::now();
        let mut state = self.shared.state.lock();
        let warn = !state.degraded
            || state
                .last_warning
                .is_none_or(|at| now.duration_since(at) >= self.shared.options.warn_every);
        state.degraded = true;
        state.error = Some(error.to_owned());
        if unreachable {
            state.retry_at = Some(now + self.shared.options.retry_after);
        }
        if warn {
            state.last_warning = Some(now);
            drop(state);
            tracing::warn!(
                redis.operation = operation,
                error,
                "redis failed; the cache misses and rate limits count per replica until it is back"
            );
        }
    }
}
