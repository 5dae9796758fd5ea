//! The strict absolute-URL parser. The allow-list parses its entries with the same functions,
//! and the value it decides on is the value the transport connects to: no parser differential.
//!
//! Why by hand: the `url` crate implements WHATWG URLs with IDNA (a large dependency tree) and
//! is deliberately lenient; this host accepts a small, strict subset (see `abi.md`, "Request URLs").

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Why a URL (or the origin of an allow entry) was refused: `invalid_url` for a guest's URL,
/// a configuration error for an allow entry. The text goes to logs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UrlError(pub(crate) &'static str);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid URL: {}", self.0)
    }
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    /// Plain TCP.
    Http,
    /// TLS.
    Https,
}

impl Scheme {
    /// Port used when the URL names none.
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A normalized host: lowercase name without a trailing dot, or an IP literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Host {
    /// A DNS name.
    Name(String),
    /// An IPv4 literal in dotted-quad form.
    V4(Ipv4Addr),
    /// An IPv6 literal (written in brackets).
    V6(Ipv6Addr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Scheme, host and port: what the allow-list and the connection pool key on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    /// The scheme.
    pub(crate) scheme: Scheme,
    /// The normalized host.
    pub(crate) host: Host,
    /// The port, default filled in.
    pub(crate) port: u16,
}

impl Origin {
    /// `host[:port]` as sent in the `Host` header: the port only when not the default.
    pub(crate) fn authority(&self) -> String {
        // By hand rather than with `format!`: this runs for every request, and `core::fmt`
        // cost ~1.8 k instructions here (BENCHMARKS.md).
        let mut s = String::with_capacity(48);
        match &self.host {
            Host::Name(n) => s.push_str(n),
            Host::V4(a) => {
                for (i, octet) in a.octets().into_iter().enumerate() {
                    if i > 0 {
                        s.push('.');
                    }
                    push_decimal(&mut s, octet.into());
                }
            }
            Host::V6(a) => {
                let _ = write!(s, "[{a}]");
            }
        }
        if self.port != self.scheme.default_port() {
            s.push(':');
            push_decimal(&mut s, self.port);
        }
        s
    }
}

/// `n`'s decimal digits, written at the end of `buf` (no allocation, no `core::fmt`: the audit
/// log and the `Host` field format numbers on every request).
pub(crate) fn decimal(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or_default()
}

/// Appends `n` in decimal.
fn push_decimal(s: &mut String, n: u16) {
    for &d in decimal(n.into(), &mut [0; 20]) {
        s.push(char::from(d));
    }
}

/// A parsed request URL.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Where to connect.
    pub(crate) origin: Origin,
    /// The request-target: absolute path and query, never empty, fragment removed.
    pub(crate) path_and_query: String,
}

/// Parses a request URL (`abi.md`, "Request URLs").
/// The length limit is the caller's: it is checked on the raw bytes, before UTF-8
/// (`abi.md`, "Order of checks").
pub(crate) fn parse_url(url: &str) -> Result<Target, UrlError> {
    // Only visible ASCII: this alone keeps CR, LF, NUL, spaces and non-ASCII off the wire.
    if !url.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(UrlError(
            "bytes outside visible ASCII (percent-encode them)",
        ));
    }
    let (scheme, rest) = split_scheme(url)?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    let (host, port) = parse_authority(authority, scheme)?;
    // The fragment is the client's business and is never sent (RFC 9110 §4.2.4 / RFC 3986).
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let path_and_query = if rest.starts_with('/') {
        rest.to_owned()
    } else {
        format!("/{rest}")
    };
    Ok(Target {
        origin: Origin { scheme, host, port },
        path_and_query,
    })
}

/// Splits `scheme://rest`, accepting only `http` and `https` in any case.
pub(crate) fn split_scheme(s: &str) -> Result<(Scheme, &str), UrlError> {
    let (scheme, rest) = s
        .split_once("://")
        .ok_or(UrlError("not an absolute http(s) URL"))?;
    let scheme = if scheme.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else if scheme.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else {
        return Err(UrlError("scheme is not http or https"));
    };
    Ok((scheme, rest))
}

/// Parses `host[:port]`; userinfo is rejected, the default port filled in, also for an empty
/// port (`host:`), which RFC 3986 §3.2.3 allows and §6.2.3 says means the default.
pub(crate) fn parse_authority(authority: &str, scheme: Scheme) -> Result<(Host, u16), UrlError> {
    if authority.contains('@') {
        return Err(UrlError("userinfo is not allowed"));
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or(UrlError("unterminated IPv6 literal"))?;
        // Zone identifiers (`%eth0`) fail here too: they are meaningless to a remote origin.
        let addr: Ipv6Addr = v6.parse().map_err(|_| UrlError("bad IPv6 literal"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or(UrlError("junk after IPv6 literal"))?,
            ),
        };
        // `[::ffff:a.b.c.d]` is the IPv4 address a.b.c.d: one spelling per address, so an
        // allow-list or deny entry cannot be sidestepped by the other form.
        let host = match addr.to_ipv4_mapped() {
            Some(v4) => Host::V4(v4),
            None => Host::V6(addr),
        };
        (host, port)
    } else {
        let (name, port) = match authority.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (authority, None),
        };
        (parse_host_name(name)?, port)
    };
    let port = match port {
        None | Some("") => scheme.default_port(),
        Some(p) => parse_port(p)?,
    };
    Ok((host, port))
}

fn parse_port(p: &str) -> Result<u16, UrlError> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError("bad port"));
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(UrlError("port out of range")),
        Ok(port) => Ok(port),
    }
}

/// A DNS name or a dotted-quad IPv4 literal, lowercased, one trailing dot removed.
pub(crate) fn parse_host_name(name: &str) -> Result<Host, UrlError> {
    let name = name.to_ascii_lowercase();
    // `example.com.` and `example.com` are the same name; keeping one spelling means the
    // allow-list cannot be bypassed by the dot.
    let name = name.strip_suffix('.').unwrap_or(&name);
    if name.is_empty() || name.len() > 253 {
        return Err(UrlError("empty or overlong host"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(UrlError(
            "host has characters outside [a-z0-9-_.] (use punycode)",
        ));
    }
    if name
        .split('.')
        .any(|label| label.is_empty() || label.len() > 63)
    {
        return Err(UrlError("empty or overlong label"));
    }
    // A last label that looks numeric makes resolvers (inet_aton) read the whole host as an
    // IPv4 address in some spelling (`127.1`, `0x7f.0.0.1`, `0177.0.0.1`). We accept only the
    // canonical dotted quad, so the address we check is the address we reach.
    let last = name.rsplit('.').next().unwrap_or(name);
    let hex_like = last.len() > 2
        && last.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x"))
        && last.bytes().skip(2).all(|b| b.is_ascii_hexdigit());
    if last.bytes().all(|b| b.is_ascii_digit()) || hex_like || last == "0x" {
        return name
            .parse::<Ipv4Addr>()
            .map(Host::V4)
            .map_err(|_| UrlError("numeric host is not a dotted-quad IPv4 address"));
    }
    Ok(Host::Name(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(u: &str) -> Target {
        parse_url(u).unwrap()
    }
    fn bad(u: &str) {
        assert!(parse_url(u).is_err(), "{u} should be rejected");
    }

    #[test]
    fn defaults_and_normalization() {
        let t = ok("HTTP://Example.COM.");
        assert_eq!(t.origin.host, Host::Name("example.com".into()));
        assert_eq!(t.origin.port, 80);
        assert_eq!(t.path_and_query, "/");
        assert_eq!(t.origin.authority(), "example.com");
        let t = ok("https://h:8443?q=1#frag");
        assert_eq!(t.path_and_query, "/?q=1");
        assert_eq!(t.origin.authority(), "h:8443");
        let t = ok("http://[::1]:8080/a/b?c");
        assert_eq!(t.origin.host, Host::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(t.origin.authority(), "[::1]:8080");
        assert_eq!(t.path_and_query, "/a/b?c");
        assert_eq!(
            ok("http://127.0.0.1/").origin.host,
            Host::V4(Ipv4Addr::LOCALHOST)
        );
        // The hand-written authority is the formatted one.
        for u in [
            "http://127.0.0.1/",
            "http://0.0.0.0:1/",
            "https://255.255.255.255:65535/",
            "https://10.20.3.40:80/",
            "http://10.0.0.9:443/",
        ] {
            let o = ok(u).origin;
            let expected = if o.port == o.scheme.default_port() {
                o.host.to_string()
            } else {
                format!("{}:{}", o.host, o.port)
            };
            assert_eq!(o.authority(), expected, "{u}");
        }
        // RFC 3986 §3.2.3, §6.2.3: an empty port is the scheme's default, and `Host` omits it.
        for (u, port, authority) in [
            ("http://x:/", 80, "x"),
            ("https://example.com:/", 443, "example.com"),
            ("https://[::1]:?q", 443, "[::1]"),
        ] {
            let t = ok(u);
            assert_eq!(
                (t.origin.port, t.origin.authority().as_str()),
                (port, authority),
                "{u}"
            );
        }
    }

    #[test]
    fn rejects() {
        for u in [
            "ftp://x/",
            "http:/x",
            "//x/",
            "http://",
            "http://u:p@x/",
            "http://x:0/",
            "http://x:65536/",
            "http://x:8a/",
            "http://x y/",
            "http://x/a b",
            "http://x/\r\nHost: y",
            "http://x/\0",
            "http://bücher.de/",
            "http://a..b/",
            "http://127.1/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://1.2.3.4.5/",
            "http://x.123/",
            "http://[::1%25eth0]/",
            "http://[::1/",
            "http://a:1:2/",
            "http://./",
        ] {
            bad(u);
        }
    }
}
