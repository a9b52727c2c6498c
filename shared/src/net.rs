//! Outgoing HTTP to addresses clients chose (webhook endpoints, document URLs): only http(s), and
//! never loopback, private, link-local (cloud metadata) or other non-public addresses, checked on
//! the literal host and on every address DNS returns.

use std::net::IpAddr;

/// Whether a client-supplied URL may reach `ip`: only globally routable unicast addresses. Refused:
/// loopback, private, shared (CGNAT), link-local (cloud metadata), unspecified, broadcast,
/// multicast, documentation, benchmarking (198.18.0.0/15), IETF protocol assignments, reserved;
/// for IPv6 also unique-local, site-local (fec0::/10), discard-only, and every form that carries
/// an IPv4 address (IPv4-mapped, IPv4-compatible `::/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`,
/// Teredo `2001::/32`), which is judged by the IPv4 address it carries or refused outright.
/// The IANA special-purpose registries are the source of these ranges.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || (o[0] == 192 && o[1] == 88 && o[2] == 99)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // 6to4 (2002::/16) wraps an IPv4 address in segments 1-2: judged by it.
            if s[0] == 0x2002 {
                let v4 = std::net::Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
                return is_public(IpAddr::V4(v4));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // ::/96 (IPv4-compatible, deprecated) and the rest of ::/8 (reserved).
                || s[0] == 0
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                // Teredo 2001::/32, benchmarking 2001:2::/48, ORCHID 2001:10::/28 and 2001:20::/28,
                // and the rest of the IETF protocol assignments 2001::/23.
                || (s[0] == 0x2001 && s[1] < 0x0200)
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x0064 && s[1] == 0xff9b)
                || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0)
                || (s[0] & 0xe000) != 0x2000)
        }
    }
}

/// The header that carries the X-Ray trace onto outgoing webhook and document requests.
pub const TRACE_HEADER: &str = "x-amzn-trace-id";

static TRACE_ID: std::sync::RwLock<Option<String>> = std::sync::RwLock::new(None);

/// Lambda glue: the X-Ray trace id of the invocation now being served (one function instance
/// serves one invocation at a time), or `None` between invocations and outside Lambda.
pub fn set_trace_id(id: Option<String>) {
    if let Ok(mut t) = TRACE_ID.write() {
        *t = id.filter(|t| !t.is_empty() && t.is_ascii() && !t.contains(['\r', '\n']));
    }
}

/// The trace id outgoing requests pass on ([`TRACE_HEADER`]), if an invocation set one.
pub fn trace_id() -> Option<String> {
    TRACE_ID.read().ok().and_then(|t| t.clone())
}

pub use crate::cause::error_chain;

/// Checks a client-supplied URL: http or https, a host, no credentials, at most 2048 characters. An IP
/// literal must be public unless private networks are allowed.
pub fn check_url(url: &str, allow_private: bool) -> Result<http::Uri, String> {
    if url.len() > 2048 {
        return Err("url may hold at most 2048 characters".into());
    }
    let uri: http::Uri = url.parse().map_err(|_| "url is not a valid URL".to_string())?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") => {}
        _ => return Err("url must be http or https".into()),
    }
    let Some(auth) = uri.authority() else { return Err("url must name a host".into()) };
    if auth.as_str().contains('@') {
        return Err("url may not carry credentials".into());
    }
    let host = auth.host().trim_start_matches('[').trim_end_matches(']');
    if let Some(ip) = host_address(host) {
        if !allow_private && !is_public(ip) {
            return Err("url points at a private, loopback or link-local address".into());
        }
    }
    if !allow_private && host.eq_ignore_ascii_case("localhost") {
        return Err("url points at a private, loopback or link-local address".into());
    }
    Ok(uri)
}

/// The address a URL's host means, if it is an address: an IPv6 literal, or an IPv4 address in
/// any spelling the WHATWG URL standard reads as one (`2130706433`, `0x7f.1`, `0177.0.0.1`,
/// `127.1`), which is how a browser, curl and DNS resolvers read it too, so the address is judged,
/// not its spelling.
fn host_address(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    match url::Host::parse(host) {
        Ok(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Ok(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            // Issue 9: benchmarking, IPv4-compatible, 6to4 over a private address, Teredo, site-local.
            "198.18.0.1",
            "198.19.255.255",
            "::7f00:1",
            "::a00:1",
            "2002:0a00:0001::1",
            "2002:7f00:0001::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "fec0::1",
            "64:ff9b::a00:1",
            "100::1",
            "2001:2::1",
            "4000::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "198.20.0.1", "2002:5db8:d822::1", "2001:4860:4860::8888"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(check_url("http://169.254.169.254/latest", false).is_err());
        assert!(check_url("http://localhost:9/x", false).is_err());
        assert!(check_url("http://localhost:9/x", true).is_ok());
        assert!(check_url("ftp://example.com/", true).is_err());
        assert!(check_url("https://user:pw@example.com/", true).is_err());
        assert!(check_url("https://example.com/hook", false).is_ok());
        // Issue 17: numeric spellings of an IPv4 address are judged by the address they mean.
        for private in
            ["http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/", "http://0xa9fea9fe/"]
        {
            assert!(check_url(private, false).is_err(), "{private}");
            assert!(check_url(private, true).is_ok(), "{private}");
        }
        assert!(check_url("http://1572395042/", false).is_ok(), "93.184.216.34 is public");
    }
}
