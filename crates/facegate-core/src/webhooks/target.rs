//! Which URLs a webhook may target. Requests to internal addresses (loopback, private
//! networks, link-local cloud metadata at 169.254.169.254, ...) would let any caller make
//! the service probe its own network (SSRF), so they are refused unless the operator
//! allows them. URLs are parsed with the same WHATWG parser the HTTP client uses, so
//! `http://2130706433/` or `http://0x7f.1/` are seen as the 127.0.0.1 they are.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Longest URL accepted.
const MAX_URL_LEN: usize = 2048;

/// Whether `ip` is not a public unicast address: loopback, private, shared (CGNAT),
/// link-local, unspecified, broadcast, multicast, documentation, benchmarking or reserved;
/// IPv4 addresses embedded in IPv6 (mapped, translated, compatible, NAT64, 6to4, Teredo)
/// are judged as IPv4.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // "This network" 0/8, shared address space 100.64/10, IETF protocol assignments
        // 192.0.0/24, benchmarking 198.18/15, reserved 240/4.
        || a == 0
        || (a == 100 && (b & 0xc0) == 64)
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = || Ipv4Addr::from(((u32::from(s[6])) << 16) | u32::from(s[7]));
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    // IPv4-compatible (`::a.b.c.d`, deprecated), IPv4-translated (`::ffff:0:a.b.c.d`) and
    // NAT64 (`64:ff9b::a.b.c.d`).
    if (s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified())
        || s[..6] == [0, 0, 0, 0, 0xffff, 0]
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
    {
        return is_internal_v4(embedded_v4());
    }
    // NAT64 for local use (`64:ff9b:1::/48`) translates into the operator's own networks.
    if s[..3] == [0x64, 0xff9b, 1] {
        return true;
    }
    // 6to4 (`2002:aabb:ccdd::/48` relays to a.b.c.d).
    if s[0] == 0x2002 {
        return is_internal_v4(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])));
    }
    // Teredo (`2001:0::/32`): the client's IPv4 address is the last 32 bits, inverted.
    if s[..2] == [0x2001, 0] {
        return is_internal_v4(!embedded_v4());
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        // Site-local fec0::/10 (deprecated) and documentation 2001:db8::/32.
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && s[1] == 0x0db8)
}

/// The URL as it will be stored and called, or why it is refused. Only `http` and
/// `https`; unless `allow_internal`, no literal internal address and no `localhost`.
/// Host names are not resolved here: the sender checks the addresses it connects to.
pub fn validate_target(raw: &str, allow_internal: bool) -> Result<Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("url must be at most {MAX_URL_LEN} characters"));
    }
    let url = Url::parse(raw.trim()).map_err(|e| format!("url is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("url must be an http:// or https:// URL".to_owned());
    }
    let internal = match url.host() {
        None => return Err("url must name a host".to_owned()),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => is_internal_v4(ip),
        Some(Host::Ipv6(ip)) => is_internal_v6(ip),
    };
    if internal && !allow_internal {
        return Err(
            "url must not target a loopback, private, link-local or other internal address"
                .to_owned(),
        );
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> bool {
        validate_target(url, false).is_err()
    }

    #[test]
    fn public_http_and_https_urls_are_accepted_and_normalised() {
        let url = validate_target("https://Hooks.Example.com/facegate?x=1", false).unwrap();
        assert_eq!(url.as_str(), "https://hooks.example.com/facegate?x=1");
        assert!(validate_target("http://93.184.216.34:8080/in", false).is_ok());
        assert!(validate_target("http://[2606:2800:220:1::1]/", false).is_ok());
        // Host names are not resolved here.
        assert!(validate_target("http://internal-service/", false).is_ok());
    }

    #[test]
    fn other_schemes_and_broken_urls_are_refused() {
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com/",
            "example.com/hook",
            "http://",
            "",
        ] {
            assert!(refused(url), "{url}");
        }
        assert!(refused(&format!(
            "https://example.com/{}",
            "a".repeat(2048)
        )));
    }

    #[test]
    fn internal_literal_addresses_and_localhost_are_refused() {
        for url in [
            "http://127.0.0.1/",
            "http://127.1.2.3:9000/",
            "http://localhost:8080/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://10.0.0.5/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://255.255.255.255/",
            "http://224.0.0.1/",
            // Other spellings of 127.0.0.1 that the URL parser normalises.
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://[::1]/",
            "http://[::]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
        ] {
            assert!(refused(url), "{url} should be refused");
            assert!(
                validate_target(url, true).is_ok(),
                "{url} is allowed when opted in"
            );
        }
        assert!(!refused("http://172.32.0.1/"));
        assert!(!refused("http://[::ffff:93.184.216.34]/"));
    }

    #[test]
    fn ipv6_transition_addresses_are_judged_by_their_ipv4_address() {
        for internal in [
            "http://[2002:7f00:1::1]/",
            "http://[2002:a00:1::]/",
            "http://[64:ff9b:1::a00:1]/",
            "http://[64:ff9b:1::5db8:d822]/",
            "http://[::ffff:0:7f00:1]/",
            "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
        ] {
            assert!(refused(internal), "{internal}");
        }
        for public in [
            "http://[2002:5db8:d822::1]/",
            "http://[2001:0:4136:e378:8000:63bf:a247:27dd]/",
        ] {
            assert!(!refused(public), "{public}");
        }
    }

    #[test]
    fn addresses_are_classified() {
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "198.18.0.1",
            "192.0.2.1",
            "::1",
            "fc00::1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
