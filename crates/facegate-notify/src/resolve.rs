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
            // One message whether the name does not resolve or resolves to internal
            // addresses only: a hook's owner must not learn which internal names exist.
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map(|found| found.filter(|addr| !is_internal(addr.ip())).collect())
                .unwrap_or_default();
            if public.is_empty() {
                return Err(no_public_address(&host).into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Why a host name is not connected to.
fn no_public_address(host: &str) -> String {
    format!("{host} does not resolve to a public address")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `localhost` resolves to loopback only; a name under `.invalid` never resolves
    /// (RFC 6761). The two failures must read the same.
    #[tokio::test]
    async fn unresolvable_and_internal_names_fail_alike() {
        let mut errors = Vec::new();
        for host in ["localhost", "no-such-host.invalid"] {
            let name: Name = host.parse().unwrap();
            let Err(error) = PublicOnly.resolve(name).await else {
                panic!("{host} resolved to a public address");
            };
            errors.push(error.to_string().replace(host, "<host>"));
        }
        assert_eq!(errors[0], errors[1]);
        assert_eq!(errors[0], no_public_address("<host>"));
    }
}
