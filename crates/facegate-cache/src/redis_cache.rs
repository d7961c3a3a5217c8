//! [`RedisCache`]: the [`Cache`] port over Redis strings with `PX` expiry.

use async_trait::async_trait;
use facegate_core::ports::{Cache, CacheHealth};

use crate::connection::{ConnectError, RedisClient, RedisOptions};

/// Bytes by key in Redis, shared by every replica. Misses and ignores writes while Redis
/// cannot be reached (see [`RedisClient`]).
#[derive(Debug, Clone)]
pub struct RedisCache {
    client: RedisClient,
}

impl RedisCache {
    pub fn new(client: RedisClient) -> Self {
        Self { client }
    }

    /// [`RedisClient::connect`] and a cache over it.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, ConnectError> {
        Ok(Self::new(RedisClient::connect(url, options).await?))
    }

    pub fn client(&self) -> &RedisClient {
        &self.client
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let cmd = &redis::cmd("GET").arg(self.client.key(key)).to_owned();
        self.client
            .run("get", |mut c| async move {
                cmd.query_async::<Option<Vec<u8>>>(&mut c).await
            })
            .await
            .flatten()
    }

    async fn set(&self, key: &str, value: &[u8], ttl_ms: u64) {
        let cmd = &redis::cmd("SET")
            .arg(self.client.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms.max(1))
            .to_owned();
        self.client
            .run(
                "set",
                |mut c| async move { cmd.query_async::<()>(&mut c).await },
            )
            .await;
    }

    async fn delete(&self, key: &str) {
        let cmd = &redis::cmd("DEL").arg(self.client.key(key)).to_owned();
        self.client
            .run("delete", |mut c| async move {
                cmd.query_async::<()>(&mut c).await
            })
            .await;
    }

    fn health(&self) -> CacheHealth {
        self.client.health()
    }
}
