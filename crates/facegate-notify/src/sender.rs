//! [`WebhookSender`] over reqwest: one POST per attempt, signed, with a timeout, never
//! following redirects (a redirect could point anywhere, internal addresses included; it
//! counts as a failed attempt).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use facegate_core::ports::WebhookSender;
use facegate_core::webhooks::Delivery;
use facegate_core::{ErrorCode, Failure, Result};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

use crate::resolve::PublicOnly;
use crate::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};

/// How deliveries are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderConfig {
    /// Longest wait for the receiver's answer (connecting included).
    pub timeout: Duration,
    /// Connect to host names that resolve to internal addresses.
    pub allow_private_targets: bool,
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client: {0}")]
pub struct SenderError(#[from] reqwest::Error);

/// Sends deliveries over HTTP and HTTPS.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpWebhookSender {
    pub fn new(config: SenderConfig) -> Result<Self, SenderError> {
        crate::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("facegate/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private_targets {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            client: builder.build()?,
            timeout: config.timeout,
        })
    }

    fn describe(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            return format!("no answer within {} ms", self.timeout.as_millis());
        }
        // reqwest's own message names the URL only; the cause is in the chain.
        let mut message = String::from(if error.is_connect() {
            "cannot connect"
        } else {
            "the request failed"
        });
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        message
    }
}

fn header(value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value)
        .map_err(|_| Failure::internal(format!("{value:?} is not a header value")))
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, url: &str, secret: &str, delivery: &Delivery) -> Result<u16> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            "x-facegate-event",
            HeaderValue::from_static(delivery.event.as_str()),
        );
        headers.insert("x-facegate-delivery", header(&delivery.id)?);
        headers.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp));
        headers.insert(
            SIGNATURE_HEADER,
            header(&signature(secret, timestamp, &delivery.payload))?,
        );
        let response = self
            .client
            .post(url)
            .headers(headers)
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(|e| Failure::new(ErrorCode::Internal, self.describe(&e)))?;
        Ok(response.status().as_u16())
    }
}
