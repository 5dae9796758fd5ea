//! The no-proxy list: which targets bypass the egress proxy and are connected to directly
//! (`abi.md`, "Egress proxy"). The entries are those of curl's `NO_PROXY`, matched on the
//! URL's host as parsed (never on what a name resolves to).

use crate::config::ConfigError;
use crate::url::{self, Host, Origin};
use std::net::IpAddr;

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `*`: every target.
    All,
    /// `example.com` (or `.example.com`, `*.example.com`): that name and every name below it.
    Domain(String),
    /// An IP literal with a prefix length (`/32` or `/128` when none was given): IP-literal
    /// hosts in that range.
    Net(IpAddr, u8),
}

/// Targets that go direct although a proxy is configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NoProxy(Vec<Entry>);

impl NoProxy {
    /// Parses the entries; a malformed one is a configuration error naming it.
    pub(crate) fn parse<S: AsRef<str>>(entries: &[S]) -> Result<NoProxy, ConfigError> {
        entries
            .iter()
            .map(|raw| {
                let raw = raw.as_ref();
                parse_entry(raw).map_err(|why| ConfigError::new(format!("no-proxy `{raw}`: {why}")))
            })
            .collect::<Result<Vec<Entry>, ConfigError>>()
            .map(NoProxy)
    }

    /// Whether `origin` bypasses the proxy. Schemes and ports play no part, as in curl.
    pub(crate) fn matches(&self, origin: &Origin) -> bool {
        self.0.iter().any(|entry| match (entry, &origin.host) {
            (Entry::All, _) => true,
            (Entry::Domain(d), Host::Name(name)) => {
                name == d
                    || name
                        .strip_suffix(d.as_str())
                        .is_some_and(|front| front.ends_with('.'))
            }
            (Entry::Net(net, bits), Host::V4(ip)) => in_net(IpAddr::V4(*ip), *net, *bits),
            (Entry::Net(net, bits), Host::V6(ip)) => in_net(IpAddr::V6(*ip), *net, *bits),
            (Entry::Domain(_), _) | (Entry::Net(..), Host::Name(_)) => false,
        })
    }
}

fn parse_entry(raw: &str) -> Result<Entry, &'static str> {
    if raw == "*" {
        return Ok(Entry::All);
    }
    if raw.is_empty() || raw.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Err("empty, or has whitespace or non-ASCII bytes");
    }
    let (addr, bits) = match raw.split_once('/') {
        Some((addr, bits)) => {
            let bits: u8 = bits
                .parse()
                .map_err(|_| "the prefix length after `/` is not a number")?;
            (addr, Some(bits))
        }
        None => (raw, None),
    };
    let literal = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        // `::ffff:a.b.c.d` is the IPv4 address, as URL hosts are.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        if bits > max {
            return Err("prefix length too large for the address");
        }
        return Ok(Entry::Net(ip, bits));
    }
    if bits.is_some() {
        return Err("a `/` prefix length needs an IP address");
    }
    if addr.contains(':') {
        return Err("a port or scheme is not part of a no-proxy entry (hosts only)");
    }
    let name = addr
        .strip_prefix("*.")
        .or_else(|| addr.strip_prefix('.'))
        .unwrap_or(addr);
    match url::parse_host_name(name) {
        Ok(Host::Name(n)) => Ok(Entry::Domain(n)),
        Ok(_) => Err("a numeric host must be a whole dotted-quad IPv4 address"),
        Err(e) => Err(e.0),
    }
}

/// Whether `ip` is in `net/bits` (both of one family; never across families).
fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(a.to_bits()), u128::from(n.to_bits()), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (a.to_bits(), n.to_bits(), 128),
        _ => return false,
    };
    let shift = width - u32::from(bits);
    if shift >= 128 {
        return true;
    }
    (ip >> shift) == (net >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::parse_url;

    fn bypasses(entries: &[&str], url: &str) -> bool {
        let list = NoProxy::parse(entries).unwrap();
        list.matches(&parse_url(url).unwrap().origin)
    }

    /// curl's NO_PROXY rules: a name matches itself and every name below it, by labels; a
    /// leading `.` (or `*.`) changes nothing; `*` alone matches everything; IP entries match IP
    /// literals only, with an optional CIDR prefix; ports and schemes play no part.
    #[test]
    fn matching_table() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["example.com"], "https://example.com/", true),
            (&["example.com"], "http://EXAMPLE.com.:8080/", true),
            (&["example.com"], "https://a.b.example.com/", true),
            (&["example.com"], "https://notexample.com/", false),
            (&["example.com"], "https://example.com.evil.net/", false),
            (&[".example.com"], "https://example.com/", true),
            (&["*.example.com"], "https://www.example.com/", true),
            (&["*"], "https://anything.example/", true),
            (&["*"], "http://10.0.0.1/", true),
            (&["10.0.0.0/8"], "http://10.1.2.3/", true),
            (&["10.0.0.0/8"], "http://11.1.2.3/", false),
            (&["127.0.0.1"], "http://127.0.0.1:8080/", true),
            (&["127.0.0.1"], "http://localhost:8080/", false),
            (&["localhost"], "http://127.0.0.1:8080/", false),
            (&["::1"], "http://[::1]:8080/", true),
            (&["[::1]"], "http://[0:0::1]/", true),
            (&["fd00::/8"], "http://[fd12::1]/", true),
            (&["fd00::/8"], "http://10.0.0.1/", false),
            (&["::ffff:10.0.0.1"], "http://10.0.0.1/", true),
            (&["0.0.0.0/0"], "http://1.2.3.4/", true),
            (&[], "https://example.com/", false),
        ];
        for (entries, url, want) in cases {
            assert_eq!(bypasses(entries, url), *want, "{entries:?} {url}");
        }
    }

    #[test]
    fn malformed_entries_are_configuration_errors() {
        for bad in [
            "",
            " example.com",
            "example.com:8080",
            "http://example.com",
            "10.0.0.0/33",
            "::/129",
            "example.com/8",
            "a..b",
            "127.1",
            "bücher.de",
            "10.0.0.0/x",
        ] {
            assert!(NoProxy::parse(&[bad]).is_err(), "{bad:?}");
        }
    }
}
