//! Host names resolved at connection time, keeping only public addresses: a hook's name
//! cannot lead the service into its own network (SSRF), whether it points there from the
//! start or is re-pointed later (DNS rebinding), because the addresses checked are the
//! ones connected to. Literal IP addresses never reach a resolver; the use-case checks
//! those.

use std::net::SocketAddr;

use facegate_core::webhooks::is_internal;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves with the system resolver and drops internal addresses.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| !is_internal(addr.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address (internal targets are not allowed)"
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}
