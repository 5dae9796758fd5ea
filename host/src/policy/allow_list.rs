//! The allow-list of origins: `abi.md`, "Allow-list".

use crate::config::ConfigError;
use crate::url::{self, Host, Origin, Scheme};
use std::net::IpAddr;

/// How an entry names hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this host.
    Exact(Host),
    /// Any name with at least one more label in front of this suffix (`*.example.com`).
    Subdomains(String),
}

/// One origin pattern, the syntax of an allow entry without `!` (`abi.md`, "Allow-list"):
/// `scheme://host[:port]` or `scheme://*.domain[:port]`. Also what binds injected headers and
/// client certificates to origins.
#[derive(Debug, Clone)]
pub(crate) struct OriginPattern {
    scheme: Scheme,
    host: HostPattern,
    port: u16,
}

type Entry = OriginPattern;

impl OriginPattern {
    /// Parses one pattern; the error says why it is not one.
    pub(crate) fn parse(text: &str) -> Result<OriginPattern, String> {
        parse_entry(text)
    }

    /// Whether the pattern is for `https` origins.
    pub(crate) fn is_https(&self) -> bool {
        self.scheme == Scheme::Https
    }

    /// Whether `origin` matches, by the allow-list's rules.
    pub(crate) fn matches(&self, origin: &Origin) -> bool {
        if self.scheme != origin.scheme || self.port != origin.port {
            return false;
        }
        match (&self.host, &origin.host) {
            (HostPattern::Exact(h), host) => h == host,
            (HostPattern::Subdomains(suffix), Host::Name(name)) => name
                .strip_suffix(suffix.as_str())
                .and_then(|front| front.strip_suffix('.'))
                .is_some_and(|front| !front.is_empty()),
            (HostPattern::Subdomains(_), _) => false,
        }
    }
}

/// The decision for one origin.
#[derive(Debug, Clone, Default)]
pub(crate) struct Admission {
    /// The IP address an admitting entry names literally, if any: the address policy lets
    /// exactly this address through even if it is internal.
    pub(crate) literal_ip: Option<IpAddr>,
    /// An admitting entry names `localhost`: loopback addresses are let through.
    pub(crate) localhost: bool,
    /// Every address is let through: the embedder opted in for this destination (the egress
    /// proxy with `HttpCtxBuilder::proxy_allow_internal`; never set by an allow entry).
    pub(crate) any_address: bool,
}

/// Parsed allow-list: allow entries, deny entries (`!origin`), or allow-all.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowList {
    allow_all: bool,
    allow: Vec<Entry>,
    deny: Vec<Entry>,
}

/// The entry that admits every origin. Its name says what it is.
pub(crate) const ALLOW_ALL: &str = "insecure:allow-all";

impl AllowList {
    /// Parses every entry; a malformed entry is an error here, never a silent decision later.
    pub(crate) fn parse<S: AsRef<str>>(entries: &[S]) -> Result<AllowList, ConfigError> {
        let mut list = AllowList::default();
        for raw in entries {
            let raw = raw.as_ref();
            // Not trimmed: stray whitespace is a mistake worth reporting, not guessing around.
            let text = raw;
            if text == ALLOW_ALL {
                list.allow_all = true;
                continue;
            }
            let (deny, text) = match text.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, text),
            };
            let entry = parse_entry(text)
                .map_err(|why| ConfigError::new(format!("allowed host `{raw}`: {why}")))?;
            if deny {
                list.deny.push(entry);
            } else {
                list.allow.push(entry);
            }
        }
        Ok(list)
    }

    /// Decides on an origin. Deny entries win over allow entries and over allow-all.
    pub(crate) fn admit(&self, origin: &Origin) -> Option<Admission> {
        if self.deny.iter().any(|e| e.matches(origin)) {
            return None;
        }
        let mut admission: Option<Admission> = self.allow_all.then(Admission::default);
        for entry in self.allow.iter().filter(|e| e.matches(origin)) {
            let a = admission.get_or_insert_with(Admission::default);
            match &entry.host {
                HostPattern::Exact(Host::V4(ip)) => a.literal_ip = Some(IpAddr::V4(*ip)),
                HostPattern::Exact(Host::V6(ip)) => a.literal_ip = Some(IpAddr::V6(*ip)),
                HostPattern::Exact(Host::Name(n)) if n == "localhost" => a.localhost = true,
                _ => {}
            }
        }
        admission
    }
}

fn parse_entry(text: &str) -> Result<Entry, String> {
    let (scheme, rest) = url::split_scheme(text).map_err(|e| e.to_string())?;
    // An origin has no path; a lone "/" is tolerated because people write it.
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Err("an origin has no path, query or fragment".into());
    }
    let (wildcard, authority) = match authority.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, authority),
    };
    if authority.contains('*') {
        return Err("`*` is only allowed as the whole first label".into());
    }
    let (host, port) = url::parse_authority(authority, scheme).map_err(|e| e.to_string())?;
    let host = match (wildcard, host) {
        (false, h) => HostPattern::Exact(h),
        (true, Host::Name(n)) => HostPattern::Subdomains(n),
        (true, _) => return Err("a wildcard needs a DNS name, not an IP address".into()),
    };
    Ok(Entry { scheme, host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admits(list: &[&str], url: &str) -> bool {
        let list = AllowList::parse(list).unwrap();
        let t = url::parse_url(url).unwrap();
        list.admit(&t.origin).is_some()
    }

    #[test]
    fn scheme_host_and_port_must_all_match() {
        let l = ["https://example.com"];
        assert!(admits(&l, "https://example.com/x"));
        assert!(admits(&l, "https://example.com:443/x"));
        assert!(admits(&l, "https://EXAMPLE.com./x"));
        assert!(!admits(&l, "http://example.com/x"));
        assert!(!admits(&l, "https://example.com:8443/x"));
        assert!(!admits(&l, "https://example.com.evil.net/"));
        assert!(!admits(&l, "https://evilexample.com/"));
        assert!(!admits(&l, "https://a.example.com/"));
        assert!(admits(&["http://h:80"], "http://h/"));
        // An empty port is the default in entries and URLs alike (RFC 3986 §3.2.3, §6.2.3).
        assert!(admits(&["https://example.com:"], "https://example.com/"));
        assert!(admits(&l, "https://example.com:/"));
        assert!(!admits(
            &["https://example.com:"],
            "https://example.com:8443/"
        ));
    }

    #[test]
    fn wildcards_need_an_extra_label() {
        let l = ["https://*.example.com"];
        assert!(admits(&l, "https://a.example.com/"));
        assert!(admits(&l, "https://a.b.example.com/"));
        assert!(!admits(&l, "https://example.com/"));
        assert!(!admits(&l, "https://aexample.com/"));
        assert!(!admits(&l, "https://a.example.com.evil.net/"));
    }

    #[test]
    fn deny_entries_carve_exceptions() {
        let l = ["https://*.example.com", "!https://admin.example.com"];
        assert!(admits(&l, "https://www.example.com/"));
        assert!(!admits(&l, "https://admin.example.com/"));
        assert!(!admits(&["insecure:allow-all", "!http://x"], "http://x/"));
        assert!(admits(&["insecure:allow-all"], "http://x/"));
    }

    #[test]
    fn empty_denies_everything() {
        assert!(!admits(&[], "http://x/"));
    }

    #[test]
    fn ip_literals_compare_by_value() {
        assert!(admits(&["http://[::1]:8080"], "http://[0:0::1]:8080/"));
        let list = AllowList::parse(&["http://127.0.0.1:1"]).unwrap();
        let t = url::parse_url("http://127.0.0.1:1/").unwrap();
        assert_eq!(
            list.admit(&t.origin).unwrap().literal_ip,
            Some("127.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn malformed_entries_are_configuration_errors() {
        for e in [
            "example.com",
            "http://",
            "ftp://x",
            "http://a/b",
            "http://*.1.2.3.4",
            "http://a.*.com",
            "*.example.com",
            "http://u@x",
            "http://x:99999",
        ] {
            assert!(AllowList::parse(&[e]).is_err(), "{e}");
        }
    }
}
