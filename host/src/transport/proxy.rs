//! The egress proxy (`abi.md`, "Egress proxy"): its configuration, which targets go through
//! it, the `CONNECT` tunnel to an `https` origin, and the absolute-form request of an `http`
//! target.
//!
//! - `https` targets: `CONNECT host:port` (RFC 9110 §9.3.6), then TLS with the origin through
//!   the tunnel, verified against the origin's name exactly as without a proxy: the proxy
//!   relays ciphertext only.
//! - `http` targets: the request itself goes to the proxy with an absolute-form target
//!   (RFC 9112 §3.2.2), as curl and browsers do; proxies commonly refuse `CONNECT` to ports
//!   other than 443, and the traffic is readable on the path anyway.
//!
//! The `CONNECT` request is serialized here and its answer read with the same
//! `http1::HeadParser` and `parse_head` as any response, so the wire rules and limits are those
//! of a response head. Credentials (`Proxy-Authorization: Basic`) come from the embedder only;
//! they live in zeroize-on-drop memory and appear in no `Debug` output, error, log line or
//! audit event.

use super::{Clock, Conn, Dialer, Endpoint, Stream, tls};
use crate::audit::Phases;
use crate::config::{ConfigError, Limits, MAX_INTERIM_RESPONSES};
use crate::error::{HttpError, IoFailure, ProxyError, Stage, TimeoutPhase};
use crate::http1::{HeadParser, HostField, parse_head};
use crate::policy::{Admission, NoProxy};
use crate::url::{self, Host, Origin, Scheme};
use std::fmt;
use std::sync::Arc;
use std::time::Instant;
use zeroize::Zeroizing;

/// The proxy settings as the embedder gave them, checked when the context is built.
#[derive(Default)]
pub(crate) struct ProxySettings {
    /// The proxy URL for `http` targets.
    pub(crate) http: Option<Zeroizing<String>>,
    /// The proxy URL for `https` targets.
    pub(crate) https: Option<Zeroizing<String>>,
    /// No-proxy entries.
    pub(crate) no_proxy: Vec<String>,
    /// Whether the proxy may have a non-public address although its URL does not name it
    /// literally.
    pub(crate) allow_internal: bool,
}

impl fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |u: &Option<Zeroizing<String>>| u.as_deref().map(|u| redact(u));
        f.debug_struct("ProxySettings")
            .field("http", &show(&self.http))
            .field("https", &show(&self.https))
            .field("no_proxy", &self.no_proxy)
            .field("allow_internal", &self.allow_internal)
            .finish()
    }
}

impl ProxySettings {
    /// Parses and checks the settings; `limits` bound the head of the answer to `CONNECT`.
    pub(crate) fn build(&self, limits: &Limits) -> Result<Proxies, ConfigError> {
        let parse = |url: &Option<Zeroizing<String>>| {
            url.as_deref()
                .map(|u| Proxy::parse(u, self.allow_internal).map(Arc::new))
                .transpose()
        };
        let (http, https) = (parse(&self.http)?, parse(&self.https)?);
        if http.is_none() && https.is_none() && (!self.no_proxy.is_empty() || self.allow_internal) {
            return Err(ConfigError::new(
                "no_proxy or proxy_allow_internal is set but no proxy is",
            ));
        }
        Ok(Proxies {
            http,
            https,
            no_proxy: NoProxy::parse(&self.no_proxy)?,
            limits: limits.clone(),
        })
    }
}

/// The proxies of a context, and the targets that bypass them. Empty: every target direct.
#[derive(Debug, Default)]
pub(crate) struct Proxies {
    http: Option<Arc<Proxy>>,
    https: Option<Arc<Proxy>>,
    no_proxy: NoProxy,
    /// Bounds of the answer to `CONNECT`: the context's response limits.
    limits: Limits,
}

impl Proxies {
    /// The proxy a request to `origin` goes through, if any. A pure function of the
    /// configuration and the origin, decided with the allow-list, before anything is sent.
    pub(crate) fn route(&self, origin: &Origin) -> Option<Arc<Proxy>> {
        let proxy = match origin.scheme {
            Scheme::Http => self.http.as_ref(),
            Scheme::Https => self.https.as_ref(),
        }?;
        if self.no_proxy.matches(origin) {
            return None;
        }
        Some(proxy.clone())
    }
}

/// One proxy: where it is, which of its addresses may be connected to, its credentials.
pub(crate) struct Proxy {
    /// `http://host:port`: what the proxy's connection is opened to.
    endpoint: Endpoint,
    /// The address policy's exemptions for the proxy's own addresses.
    admission: Admission,
    /// `http://host[:port]` without credentials: the name logs and audit events use.
    name: Arc<str>,
    /// The `Proxy-Authorization` field line, if the URL had credentials.
    authorization: Option<Zeroizing<String>>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("name", &self.name)
            .field(
                "credentials",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// The URL with any userinfo replaced by `***`: what error messages and `Debug` may show.
///
/// Everything up to the last `@` is taken for userinfo, wherever it stands: a password may
/// contain `/`, `?` or `#` unescaped (a mistake the parser then refuses, with this text), so the
/// authority's usual end cannot be trusted to bound the secret. A URL with no `@` has no
/// credentials and is shown whole.
fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        None => ("", url),
    };
    match rest.rsplit_once('@') {
        Some((_, host)) if scheme.is_empty() => format!("***@{host}"),
        Some((_, host)) => format!("{scheme}://***@{host}"),
        None => url.to_owned(),
    }
}

impl Proxy {
    /// Parses `http://[user[:password]@]host:port[/]`. Errors never quote the credentials.
    fn parse(url: &str, allow_internal: bool) -> Result<Proxy, ConfigError> {
        let fail = |why: &str| ConfigError::new(format!("proxy `{}`: {why}", redact(url)));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| fail("expected http://[user:password@]host:port"))?;
        if scheme.eq_ignore_ascii_case("https") {
            return Err(fail(
                "TLS to the proxy itself (an https:// proxy URL) is not supported; use an \
                 http:// proxy URL (requests to https origins stay encrypted end to end through \
                 CONNECT)",
            ));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(fail("the scheme must be http"));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(fail("a proxy URL has no path, query or fragment"));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        // The port is required: curl assumes 1080 and most other tools 80; we do not guess.
        let port_text = match hostport.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') || host.starts_with('[') => port,
            _ => "",
        };
        if port_text.is_empty() || port_text.contains(']') {
            return Err(fail("the port is required (host:port)"));
        }
        let (host, port) = url::parse_authority(hostport, Scheme::Http).map_err(|e| fail(e.0))?;
        let admission = Admission {
            literal_ip: match &host {
                Host::V4(ip) => Some((*ip).into()),
                Host::V6(ip) => Some((*ip).into()),
                Host::Name(_) => None,
            },
            localhost: matches!(&host, Host::Name(n) if n == "localhost"),
            any_address: allow_internal,
        };
        let origin = Origin {
            scheme: Scheme::Http,
            host,
            port,
        };
        let name: Arc<str> = format!("http://{}", origin.authority()).into();
        let endpoint = Endpoint::new(origin).map_err(|e| fail(e.0))?;
        let authorization = userinfo
            .map(|u| basic_authorization(u).map_err(fail))
            .transpose()?;
        Ok(Proxy {
            endpoint,
            admission,
            name,
            authorization,
        })
    }

    /// `http://host[:port]`, without credentials.
    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }
}

/// `Basic base64(user:password)` (RFC 7617) from percent-encoded userinfo, every
/// intermediate buffer zeroized on drop.
fn basic_authorization(userinfo: &str) -> Result<Zeroizing<String>, &'static str> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let user = percent_decode(user)?;
    let password = percent_decode(password)?;
    if user.is_empty() {
        return Err("the proxy user name is empty");
    }
    // RFC 7617 §2: the user-id cannot contain a colon; neither part may contain controls.
    if user.contains(&b':') {
        return Err("the proxy user name contains `:`");
    }
    if user
        .iter()
        .chain(password.iter())
        .any(|&b| b < 0x20 || b == 0x7f)
    {
        return Err("the proxy credentials contain control characters");
    }
    let mut pair = Zeroizing::new(Vec::with_capacity(user.len() + 1 + password.len()));
    pair.extend_from_slice(&user);
    pair.push(b':');
    pair.extend_from_slice(&password);
    let mut value = Zeroizing::new(String::with_capacity(6 + pair.len().div_ceil(3) * 4));
    value.push_str("Basic ");
    base64_into(&pair, &mut value);
    Ok(value)
}

/// Decodes `%XX` escapes (RFC 3986 §2.1), into zeroize-on-drop memory.
fn percent_decode(s: &str) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let mut out = Zeroizing::new(Vec::with_capacity(s.len()));
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hex = |d: Option<u8>| d.and_then(|d| char::from(d).to_digit(16));
        match (hex(bytes.next()), hex(bytes.next())) {
            (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
            _ => return Err("bad %-escape in the proxy credentials"),
        }
    }
    Ok(out)
}

/// Standard base64 with padding (RFC 4648 §4), by hand: no dependency for twenty lines.
fn base64_into(data: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |n: u32| char::from(ALPHABET.get((n & 63) as usize).copied().unwrap_or(b'='));
    for chunk in data.chunks(3) {
        let [a, b, c] = [0, 1, 2].map(|i| chunk.get(i).copied().map_or(0, u32::from));
        let n = (a << 16) | (b << 8) | c;
        out.push(sextet(n >> 18));
        out.push(sextet(n >> 12));
        out.push(if chunk.len() > 1 { sextet(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(n) } else { '=' });
    }
}

impl Endpoint {
    /// Whether the request goes to the proxy in absolute-form (an `http` target through a
    /// proxy): then the proxy's own answer may be the response, and a 407 is the proxy's.
    pub(crate) fn absolute_form(&self) -> bool {
        self.via.is_some() && self.tls_name.is_none()
    }

    /// The request-target for `path_and_query`: origin-form, or absolute-form through a proxy
    /// (RFC 9112 §3.2.2: `http://host[:port]/path?query`).
    pub(crate) fn request_target<'a>(&self, path_and_query: &'a str) -> std::borrow::Cow<'a, str> {
        if self.absolute_form() {
            format!("http://{}{path_and_query}", self.origin.authority()).into()
        } else {
            path_and_query.into()
        }
    }

    /// The proxy's credential fields for an absolute-form request (`abi.md`, "Egress proxy"),
    /// for [`crate::http1::RequestParts::encode`] to write last into the head: `Connection:
    /// Proxy-Authorization` and then `Proxy-Authorization` itself. The `Connection` field makes
    /// the credentials hop-by-hop (RFC 9110 §7.6.1): a proxy that did not ask for them must
    /// remove the field rather than relay it to the origin (RFC 9110 §11.7.2 lets it relay
    /// credentials it did not consume), where an echoing server would hand them to the guest.
    /// Empty for `CONNECT` (which the proxy itself consumes) and a proxy without credentials.
    pub(crate) fn proxy_fields(&self) -> Option<[HostField<'_>; 2]> {
        let (true, Some(value)) = (
            self.absolute_form(),
            self.via.as_ref().and_then(|p| p.authorization.as_ref()),
        ) else {
            return None;
        };
        Some([
            ("Connection", b"Proxy-Authorization"),
            ("Proxy-Authorization", value.as_bytes()),
        ])
    }

    /// The name of the proxy the request goes through, for audit events.
    pub(crate) fn proxy_name(&self) -> Option<&Arc<str>> {
        self.via.as_ref().map(|p| p.name())
    }
}

/// Opens a connection to `endpoint` through `proxy`: a tunnel with TLS to the origin for
/// `https`, the proxy connection itself (absolute-form) for `http`. An IP-literal target is
/// checked by the address policy first, as without a proxy; a name is resolved by the proxy.
pub(super) fn connect(
    dialer: &Dialer,
    proxy: &Proxy,
    endpoint: &Endpoint,
    admission: &Admission,
    clock: &mut Clock,
    phases: &mut Phases,
) -> Result<Conn, HttpError> {
    let origin = &endpoint.origin;
    let literal = match origin.host {
        Host::V4(ip) => Some(ip.into()),
        Host::V6(ip) => Some(ip.into()),
        Host::Name(_) => None,
    };
    if let Some(ip) = literal
        && !dialer.address_policy.permits(ip, admission)
    {
        return Err(HttpError::AddressProhibited(ip));
    }
    let mut conn = dialer
        .connect_direct(&proxy.endpoint, &proxy.admission, clock, phases)
        .map_err(unreachable)?;
    let Some(name) = &endpoint.tls_name else {
        conn.origin = origin.clone();
        return Ok(conn);
    };
    tunnel(&mut conn, proxy, origin, &dialer.proxies.limits, clock)?;
    // The proxy's answer ends with the empty line of its 2xx head; every byte after it is the
    // origin's, through the tunnel (`abi.md`, "Egress proxy", Which code). TLS is the
    // client's to start, so a byte before the handshake is a TLS protocol error, as without a
    // proxy, whether it came with the answer or after it.
    let (Stream::Plain(socket), true) = (conn.stream, conn.pos == conn.end) else {
        let early = rustls::Error::General("bytes before the TLS handshake".into());
        return Err(HttpError::TlsProtocol(early));
    };
    let began = Instant::now();
    let handshake = tls::handshake(
        dialer.tls_for(&endpoint.origin),
        name.clone(),
        socket.tcp,
        clock,
    );
    phases.tls = Some(began.elapsed());
    Ok(Conn::new(Stream::Tls(Box::new(handshake?)), origin))
}

/// A failure to reach the proxy, as the guest sees it: `proxy_connection_failed`, except the
/// embedder's controls (the overall deadline, the interrupt), which keep their codes.
fn unreachable(e: HttpError) -> HttpError {
    match e {
        HttpError::Timeout(TimeoutPhase::Total) | HttpError::Interrupted => e,
        other => ProxyError::Unreachable(Box::new(other)).into(),
    }
}

/// A failed write or read of the `CONNECT` exchange: a timeout or an interrupt keeps its code;
/// a hang-up before any byte of the answer, or another I/O error, means the proxy could not be
/// used; a hang-up after part of it is a truncated answer.
fn exchange_failed(failure: IoFailure, stage: Stage) -> HttpError {
    match HttpError::from_io(failure, stage) {
        e @ (HttpError::Terminated(_) | HttpError::Io(_)) => unreachable(e),
        HttpError::Incomplete => ProxyError::Malformed("truncated answer").into(),
        other => other,
    }
}

/// `CONNECT host:port HTTP/1.1`, `Host` (RFC 9110 §9.3.6, §7.2: the authority with its port),
/// and the credentials, in memory zeroized on drop.
fn connect_request(
    origin: &Origin,
    authorization: Option<&Zeroizing<String>>,
) -> Zeroizing<Vec<u8>> {
    let authority = format!("{}:{}", origin.host, origin.port);
    let credentials =
        authorization.map_or(0, |value| "Proxy-Authorization: ".len() + value.len() + 2);
    // Sized once: growing the buffer after the credentials are in it would free an unwiped
    // copy of them.
    let size =
        "CONNECT ".len() + 2 * authority.len() + " HTTP/1.1\r\nHost: ".len() + 4 + credentials;
    let mut request = Zeroizing::new(Vec::with_capacity(size));
    for part in [
        "CONNECT ",
        &authority,
        " HTTP/1.1\r\nHost: ",
        &authority,
        "\r\n",
    ] {
        request.extend_from_slice(part.as_bytes());
    }
    if let Some(value) = authorization {
        request.extend_from_slice(b"Proxy-Authorization: ");
        request.extend_from_slice(value.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    debug_assert_eq!(
        request.len(),
        size,
        "the CONNECT request's size was computed exactly"
    );
    request
}

/// Asks the proxy for a tunnel to `origin` and reads its answer: Ok on 2xx (the tunnel is
/// open, RFC 9110 §9.3.6), interim 1xx skipped as for any response.
fn tunnel(
    conn: &mut Conn,
    proxy: &Proxy,
    origin: &Origin,
    limits: &Limits,
    clock: &Clock,
) -> Result<(), HttpError> {
    let request = connect_request(origin, proxy.authorization.as_ref());
    conn.write_all(&request, clock)
        .map_err(|f| exchange_failed(f, Stage::BeforeResponse))?;
    drop(request);
    let mut interim = 0;
    loop {
        let mut parser = HeadParser::response(limits);
        let end = loop {
            if let Some(end) = parser.feed(conn.buffered()).map_err(malformed)? {
                break end;
            }
            let stage = if conn.buffered().is_empty() && interim == 0 {
                Stage::BeforeResponse
            } else {
                Stage::InResponse
            };
            match conn.fill(clock) {
                Ok(0) if stage == Stage::BeforeResponse => {
                    return Err(unreachable(HttpError::eof(stage)));
                }
                Ok(0) => return Err(ProxyError::Malformed("truncated answer").into()),
                Ok(_) => {}
                Err(failure) => return Err(exchange_failed(failure, stage)),
            }
        };
        let head = parse_head(conn.buffered().get(..end).unwrap_or_default()).map_err(malformed)?;
        conn.consume(end);
        match head.status {
            200..=299 => return Ok(()),
            101 => return Err(ProxyError::Malformed("101 to CONNECT").into()),
            100..=199 => {
                interim += 1;
                if interim > MAX_INTERIM_RESPONSES {
                    return Err(ProxyError::Malformed("too many interim responses").into());
                }
            }
            // 401 to CONNECT cannot be the origin's: some proxies (tinyproxy 1.11) answer wrong
            // credentials so, where RFC 9110 §15.5.8 says 407.
            status @ (401 | 407) => {
                log::debug!(
                    "proxy {} answered CONNECT to {}:{} with {status}: credentials missing or \
                     rejected",
                    proxy.name,
                    origin.host,
                    origin.port
                );
                return Err(ProxyError::AuthRequired(status).into());
            }
            status => {
                log::debug!(
                    "proxy {} refused CONNECT to {}:{} with status {status}",
                    proxy.name,
                    origin.host,
                    origin.port
                );
                return Err(ProxyError::Refused(status).into());
            }
        }
    }
}

/// The grammar element of the proxy's answer that failed, as the log shows it.
fn malformed(e: crate::http1::ParseError) -> HttpError {
    log::debug!("malformed answer to CONNECT: {e:?}");
    ProxyError::Malformed("the answer to CONNECT is not a valid HTTP/1.1 head").into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::parse_url;

    fn proxy(url: &str) -> Result<Proxy, ConfigError> {
        Proxy::parse(url, false)
    }

    /// RFC 4648 §10's test vectors.
    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = String::new();
            base64_into(plain.as_bytes(), &mut out);
            assert_eq!(out, encoded, "{plain:?}");
        }
    }

    /// RFC 7617 §2's example, and percent-decoded userinfo.
    #[test]
    fn basic_credentials() {
        let p = proxy("http://Aladdin:open%20sesame@proxy.example:3128").unwrap();
        assert_eq!(
            p.authorization.as_deref().map(String::as_str),
            Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        );
        assert_eq!(&*p.name, "http://proxy.example:3128");
        assert!(
            proxy("http://proxy.example:3128")
                .unwrap()
                .authorization
                .is_none()
        );
        // A password with `@` and `:`, escaped; the last `@` ends the userinfo.
        let p = proxy("http://u:p%40ss:w@10.0.0.1:8080/").unwrap();
        let mut want = String::from("Basic ");
        base64_into(b"u:p@ss:w", &mut want);
        assert_eq!(p.authorization.as_deref(), Some(&want));
    }

    #[test]
    fn proxy_urls_that_are_refused() {
        for bad in [
            "proxy.example:3128",
            "https://proxy.example:3128",
            "socks5://proxy.example:1080",
            "http://proxy.example",
            "http://proxy.example:",
            "http://[::1]",
            "http://proxy.example:3128/path",
            "http://proxy.example:3128?q",
            "http://:secret@proxy.example:3128",
            "http://a%3Ab:secret@proxy.example:3128",
            "http://u:bad%zz@proxy.example:3128",
            "http://u:a%0Ab@proxy.example:3128",
            "http://proxy.example:0",
            "http://127.1:3128",
        ] {
            assert!(proxy(bad).is_err(), "{bad}");
        }
        for good in [
            "http://[::1]:3128",
            "HTTP://127.0.0.1:3128/",
            "http://u@h:1",
        ] {
            assert!(proxy(good).is_ok(), "{good}");
        }
    }

    /// Configuration errors and `Debug` show the URL with `***` for the credentials.
    #[test]
    fn credentials_never_shown() {
        let e = proxy("https://alice:hunter2@proxy.example:3128").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("***@proxy.example:3128") && !text.contains("hunter2"),
            "{text}"
        );
        let e = proxy("http://alice:hunter2@proxy.example").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        // A password with `/`, `?` or `#` unescaped: the URL is refused, and the error must not
        // take the password for a path and show it.
        for url in [
            "http://alice:hun/ter2@proxy.example:3128",
            "http://alice:hun?ter2@proxy.example:3128",
            "http://alice:hun#ter2@proxy.example:3128",
            "http://alice:/?#hunter2@proxy.example:3128/",
            "alice:hun/ter2@proxy.example:3128",
            "https://alice:hun/ter2@proxy.example:3128",
        ] {
            let text = match proxy(url) {
                Err(e) => e.to_string(),
                Ok(p) => format!("{p:?}"),
            };
            assert!(!text.contains("ter2"), "{url}: {text}");
            let settings = ProxySettings {
                http: Some(Zeroizing::new(url.into())),
                ..ProxySettings::default()
            };
            let debug = format!("{settings:?}");
            assert!(!debug.contains("ter2"), "{url}: {debug}");
        }
        let p = proxy("http://alice:hunter2@proxy.example:3128").unwrap();
        let debug = format!("{p:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("YWxpY2U6"),
            "{debug}"
        );
        let settings = ProxySettings {
            https: Some(Zeroizing::new("http://alice:hunter2@p:1".into())),
            ..ProxySettings::default()
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn the_proxys_own_address_exemptions() {
        let literal = proxy("http://127.0.0.1:3128").unwrap().admission;
        assert_eq!(literal.literal_ip, Some([127, 0, 0, 1].into()));
        assert!(!literal.any_address && !literal.localhost);
        assert!(proxy("http://localhost:3128").unwrap().admission.localhost);
        let named = proxy("http://proxy.corp:3128").unwrap().admission;
        assert!(named.literal_ip.is_none() && !named.any_address);
        assert!(
            Proxy::parse("http://proxy.corp:3128", true)
                .unwrap()
                .admission
                .any_address
        );
    }

    #[test]
    fn routes_by_scheme_and_no_proxy() {
        let settings = ProxySettings {
            https: Some(Zeroizing::new("http://127.0.0.1:3128".into())),
            no_proxy: vec!["internal.example".into()],
            ..ProxySettings::default()
        };
        let proxies = settings.build(&Limits::default()).unwrap();
        let route = |u: &str| proxies.route(&parse_url(u).unwrap().origin).is_some();
        assert!(route("https://example.com/"));
        assert!(!route("http://example.com/"), "no proxy for http");
        assert!(!route("https://a.internal.example/"));
        let lonely = ProxySettings {
            no_proxy: vec!["x".into()],
            ..ProxySettings::default()
        };
        assert!(lonely.build(&Limits::default()).is_err());
    }

    #[test]
    fn connect_request_and_absolute_form() {
        let origin = parse_url("https://[::1]:8443/x").unwrap().origin;
        let value = Zeroizing::new(String::from("Basic eDp5"));
        assert_eq!(
            &connect_request(&origin, Some(&value))[..],
            b"CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nProxy-Authorization: Basic eDp5\r\n\r\n"
        );
        let origin = parse_url("https://example.com/").unwrap().origin;
        assert_eq!(
            &connect_request(&origin, None)[..],
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        );

        let settings = ProxySettings {
            http: Some(Zeroizing::new("http://u:p@127.0.0.1:3128".into())),
            ..ProxySettings::default()
        };
        let proxies = settings.build(&Limits::default()).unwrap();
        let target = parse_url("http://example.com:8080/a?b").unwrap();
        let mut endpoint = Endpoint::new(target.origin).unwrap();
        endpoint.via = proxies.route(&endpoint.origin);
        assert!(endpoint.absolute_form());
        assert_eq!(
            endpoint.request_target(&target.path_and_query),
            "http://example.com:8080/a?b"
        );
        let fields = endpoint.proxy_fields().unwrap();
        let parts = crate::http1::RequestParts {
            method: "GET",
            target: "x",
            authority: "example.com:8080",
            header_block: "a: 1",
            body_len: 0,
        };
        let head = parts.encode(&fields).unwrap();
        assert_eq!(
            head.bytes(),
            b"GET x HTTP/1.1\r\nHost: example.com:8080\r\na: 1\r\nConnection: Proxy-Authorization\r\nProxy-Authorization: Basic dTpw\r\n\r\n"
        );
        // Neither line counts as the guest's bytes.
        assert_eq!(
            head.guest_len(),
            b"GET x HTTP/1.1\r\nHost: example.com:8080\r\na: 1\r\n\r\n".len()
        );
        // CONNECT is the proxy's own: no hop-by-hop credentials; a proxy without credentials
        // gets none either.
        let mut tunnel = Endpoint::new(parse_url("https://example.com/").unwrap().origin).unwrap();
        tunnel.via = proxies.route(&endpoint.origin);
        assert!(tunnel.proxy_fields().is_none());
        let anonymous = ProxySettings {
            http: Some(Zeroizing::new("http://127.0.0.1:3128".into())),
            ..ProxySettings::default()
        }
        .build(&Limits::default())
        .unwrap();
        endpoint.via = anonymous.route(&endpoint.origin);
        assert!(endpoint.absolute_form() && endpoint.proxy_fields().is_none());
    }
}
