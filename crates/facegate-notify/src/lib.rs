//! Outbound notifications of facegate: [`HttpWebhookSender`] implements
//! [`facegate_core::ports::WebhookSender`], POSTing each delivery's JSON payload signed
//! with HMAC-SHA256 ([`signature`]) over HTTP or HTTPS (rustls with the ring provider).

mod resolve;
mod sender;
mod signature;

pub use sender::{HttpWebhookSender, SenderConfig, SenderError};
pub use signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};

/// Installs rustls' ring provider as the process default, unless one is installed
/// already. reqwest is built with `rustls-no-provider`, and features are unified across
/// the binary: every reqwest client built in a process that links this crate (the OTLP
/// exporter, test clients) panics without a provider, so call this first thing in
/// `main` and in test setups. [`HttpWebhookSender::new`] calls it too.
pub fn install_crypto_provider() {
    // Err only when a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
