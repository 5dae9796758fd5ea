//! Request validation and serialization: `abi.md`, "Header blocks" and "What the host sends".

use super::{is_field_value_byte, is_tchar, trim_ows};
use std::fmt;
use zeroize::Zeroizing;

/// Why the request a guest described cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestError {
    /// The method is empty, not a token, `CONNECT`, or longer than the method limit.
    Method,
    /// The header block is malformed (the text says how).
    HeaderBlock(&'static str),
    /// The guest named a header the host owns (`abi.md`, "Header blocks").
    ForbiddenHeader(String),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Method => f.write_str("invalid method"),
            RequestError::HeaderBlock(why) => write!(f, "invalid header block: {why}"),
            // Debug-escaped: the name is guest bytes and must not forge log lines.
            RequestError::ForbiddenHeader(name) => write!(f, "header {name:?} is set by the host"),
        }
    }
}

/// Checks the method's syntax: a token (RFC 9110 §9.1), not CONNECT (a tunnel would hand the
/// guest a raw socket past every policy), not TRACE (RFC 9110 §9.3.8: the final recipient, or
/// any proxy when `Max-Forwards` runs out, echoes the request it received, and with it the
/// credentials the host injected or sent to its proxy). Both in any case: some servers match
/// methods case-insensitively. Its length is the caller's check, made before UTF-8 (`abi.md`,
/// "Order of checks").
pub(crate) fn validate_method(method: &str) -> Result<(), RequestError> {
    if method.is_empty()
        || !method.bytes().all(is_tchar)
        || method.eq_ignore_ascii_case("CONNECT")
        || method.eq_ignore_ascii_case("TRACE")
    {
        return Err(RequestError::Method);
    }
    Ok(())
}

/// Methods a client may retry on its own (RFC 9110 §9.2.2; TRACE, also idempotent, is never
/// sent).
pub(crate) fn is_idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE")
}

/// Headers that frame the message or steer the connection: the host's, never the guest's
/// (RFC 9110 §7.6.1 hop-by-hop fields; RFC 9112 §6 framing). Letting a guest set them would let
/// it smuggle a second request or reuse the connection for something the host did not check.
/// `Max-Forwards` (RFC 9110 §7.6.2) chooses which proxy answers a TRACE or OPTIONS itself: with
/// TRACE refused it has no use left but addressing the embedder's proxy.
fn is_forbidden(name: &str) -> bool {
    const FORBIDDEN: [&str; 8] = [
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "max-forwards",
    ];
    FORBIDDEN.iter().any(|f| name.eq_ignore_ascii_case(f))
        || name
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("proxy-"))
}

/// Every name the host owns, whatever the value: `Host`, `Content-Length` and [`is_forbidden`].
fn is_host_owned(name: &str) -> bool {
    name.eq_ignore_ascii_case("host")
        || name.eq_ignore_ascii_case("content-length")
        || is_forbidden(name)
}

/// One or more ASCII digits, as a number (`None` if not digits or too large).
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

// The guest crate builds these blocks with its own encoder (`HeaderBlock`,
// guest/src/header_block.rs). They stay separate on purpose: the guest crate is no_std wasm and
// this one a native library, and neither may depend on the other. abi.md, "Header blocks", is
// the grammar both follow; tests/tests/header_block.rs checks the two against each other.
/// What a request head is made of: the guest's method, target and header block, and the
/// host's `Host` value and body length. [`RequestParts::check`] validates the guest's part
/// before anything else is decided; [`RequestParts::encode`] writes the head once, with the
/// host's secret-bearing fields, into one wiped-on-drop buffer of exactly the right size.
pub(crate) struct RequestParts<'a> {
    /// The method, already checked by [`validate_method`].
    pub(crate) method: &'a str,
    /// The request-target: origin-form, or absolute-form through a proxy.
    pub(crate) target: &'a str,
    /// The `Host` value: `host[:port]`.
    pub(crate) authority: &'a str,
    /// The guest's header block (`abi.md`, "Header blocks"), valid UTF-8.
    pub(crate) header_block: &'a str,
    /// The body's length.
    pub(crate) body_len: usize,
}

/// A field line the host adds after the guest's and the framing: an injected credential, or
/// the egress proxy's `Connection`/`Proxy-Authorization`. Never counted as the guest's bytes.
pub(crate) type HostField<'a> = (&'a str, &'a [u8]);

/// A serialized request head. It may hold secrets (injected fields, a proxy's credentials): the
/// buffer is allocated once at its final size, so no reallocation leaves an unwiped copy, and
/// it is wiped when dropped.
pub(crate) struct RequestHead {
    bytes: Zeroizing<Vec<u8>>,
    /// Bytes of [`HostField`] lines: what a quota or an audit event must not count.
    host_fields: usize,
}

impl RequestHead {
    /// The head as it goes on the wire.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The head's size without the host's fields: what the guest's request weighs.
    pub(crate) fn guest_len(&self) -> usize {
        self.bytes.len().saturating_sub(self.host_fields)
    }

    /// The bytes of host fields (injected credentials, a proxy's) in the head.
    pub(crate) fn host_fields_len(&self) -> usize {
        self.host_fields
    }
}

impl fmt::Debug for RequestHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The head may carry credentials.
        f.debug_struct("RequestHead")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// The decimal digits of `n`, right-aligned in a stack buffer: `Content-Length` without a
/// heap allocation.
fn decimal_digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        if let Some(d) = buf.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    buf.get(at..).unwrap_or_default()
}

impl RequestParts<'_> {
    /// Calls `each(name, value)` for every line of the guest's block that is sent, in order,
    /// after checking every line (`abi.md`, "Header blocks"): the first bad line decides.
    fn kept_lines<'b>(
        &self,
        block: &'b str,
        mut each: impl FnMut(&'b str, &'b [u8]),
    ) -> Result<(), RequestError> {
        for line in block.split('\n') {
            if line.is_empty() {
                continue;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or(RequestError::HeaderBlock("line without `:`"))?;
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(RequestError::HeaderBlock("field name is not a token"));
            }
            let value = trim_ows(value.as_bytes());
            if !value.iter().all(|&b| is_field_value_byte(b)) {
                return Err(RequestError::HeaderBlock(
                    "field value contains CR, NUL or another control character",
                ));
            }
            // Servers and CGI gateways that fold `_` into `-` (CGI's HTTP_* variables, nginx
            // with `underscores_in_headers`, some frameworks) would read `Transfer_Encoding` as
            // the framing field the host owns; such names are refused whatever their value.
            if name.contains('_') && is_host_owned(&name.replace('_', "-")) {
                return Err(RequestError::ForbiddenHeader(name.to_owned()));
            }
            if name.eq_ignore_ascii_case("host") {
                // Naming the URL's own authority is harmless; anything else would reach
                // another virtual host behind an allowed address.
                if value.eq_ignore_ascii_case(self.authority.as_bytes()) {
                    continue;
                }
                return Err(RequestError::ForbiddenHeader(name.to_owned()));
            }
            if name.eq_ignore_ascii_case("content-length") {
                // Old guests set it from the body they pass; a different number would desync
                // the framing, so only the true length is tolerated (and replaced by ours).
                if decimal(value) == Some(self.body_len as u64) {
                    continue;
                }
                return Err(RequestError::ForbiddenHeader(name.to_owned()));
            }
            if is_forbidden(name) {
                return Err(RequestError::ForbiddenHeader(name.to_owned()));
            }
            each(name, value);
        }
        Ok(())
    }

    /// Validates the guest's header block; `Ok` means [`RequestParts::encode`] will succeed.
    pub(crate) fn check(&self) -> Result<(), RequestError> {
        self.kept_lines(self.header_block, |_, _| {})
    }

    /// Serializes the head (`abi.md`, "What the host sends"): request line, `Host`, the guest's
    /// kept lines, `Content-Length`, then `host_fields`. The body is not copied here: the
    /// caller writes it straight from guest memory after the head.
    pub(crate) fn encode(
        &self,
        host_fields: &[HostField<'_>],
    ) -> Result<RequestHead, RequestError> {
        let mut digits = [0u8; 20];
        // RFC 9110 §8.6: a user agent SHOULD send Content-Length when the method defines a
        // meaning for a body, even when it is empty.
        let length = (self.body_len > 0 || matches!(self.method, "POST" | "PUT" | "PATCH"))
            .then(|| decimal_digits(self.body_len as u64, &mut digits));
        let line = |name: &str, value: &[u8]| name.len() + 2 + value.len() + 2;
        let mut guest = 0;
        self.kept_lines(self.header_block, |n, v| guest += line(n, v))?;
        let host_len: usize = host_fields.iter().map(|(n, v)| line(n, v)).sum();
        let size = self.method.len()
            + 1
            + self.target.len()
            + b" HTTP/1.1\r\n".len()
            + line("Host", self.authority.as_bytes())
            + guest
            + length.map_or(0, |l| line("Content-Length", l))
            + host_len
            + 2;
        let mut out = Zeroizing::new(Vec::with_capacity(size));
        let field = |out: &mut Vec<u8>, name: &str, value: &[u8]| {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        };
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        field(&mut out, "Host", self.authority.as_bytes());
        self.kept_lines(self.header_block, |n, v| field(&mut out, n, v))?;
        if let Some(length) = length {
            field(&mut out, "Content-Length", length);
        }
        for (name, value) in host_fields {
            field(&mut out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        debug_assert_eq!(out.len(), size, "the head's size was computed exactly");
        Ok(RequestHead {
            bytes: out,
            host_fields: host_len,
        })
    }
}

/// Validates the guest's header block and serializes a request head without host fields (the
/// fuzz targets' and the tests' entry). `authority` is the `Host` value (`host[:port]`),
/// `path_and_query` the request-target.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn encode_request_head(
    method: &str,
    authority: &str,
    path_and_query: &str,
    header_block: &str,
    body_len: usize,
) -> Result<Vec<u8>, RequestError> {
    let parts = RequestParts {
        method,
        target: path_and_query,
        authority,
        header_block,
        body_len,
    };
    Ok(parts.encode(&[])?.bytes().to_vec())
}

/// Checks a field the embedder injects (`abi.md`, "Injected headers"): a token name that is not
/// host-owned (in any `_` spelling) and a value without CR, LF, NUL or other controls.
pub(crate) fn validate_injected_field(name: &str, value: &[u8]) -> Result<(), &'static str> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err("the name is not a token");
    }
    if is_host_owned(&name.replace('_', "-")) {
        return Err("the name is a header the host owns");
    }
    if !value.iter().all(|&b| is_field_value_byte(b)) || trim_ows(value).len() != value.len() {
        return Err("the value has CR, LF, NUL, another control character, or edge whitespace");
    }
    Ok(())
}

/// Whether the guest's header block (already validated by [`encode_request_head`]) has a line
/// naming `name`, compared ASCII case-insensitively with `_` read as `-` on both sides (the
/// folding some servers and CGI gateways apply).
pub(crate) fn block_names(header_block: &str, name: &str) -> bool {
    let fold = |b: u8| {
        if b == b'_' {
            b'-'
        } else {
            b.to_ascii_lowercase()
        }
    };
    header_block
        .split('\n')
        .filter_map(|line| line.split_once(':'))
        .any(|(n, _)| {
            n.len() == name.len() && n.bytes().zip(name.bytes()).all(|(a, b)| fold(a) == fold(b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injected_fields_are_checked_and_appended() {
        assert_eq!(validate_injected_field("x-api-key", b"k 1"), Ok(()));
        assert!(validate_injected_field("host", b"x").is_err());
        assert!(validate_injected_field("Transfer_Encoding", b"x").is_err());
        assert!(validate_injected_field("proxy-authorization", b"x").is_err());
        assert!(validate_injected_field("x key", b"x").is_err());
        assert!(validate_injected_field("x-k", b"a\r\nb: c").is_err());
        assert!(validate_injected_field("x-k", b" padded").is_err());
        let parts = RequestParts {
            method: "POST",
            target: "/",
            authority: "a",
            header_block: "b: 1",
            body_len: 2,
        };
        let head = parts.encode(&[("x-api-key", b"s")]).unwrap();
        assert_eq!(
            head.bytes(),
            b"POST / HTTP/1.1\r\nHost: a\r\nb: 1\r\nContent-Length: 2\r\nx-api-key: s\r\n\r\n"
        );
        assert_eq!(head.host_fields_len(), b"x-api-key: s\r\n".len());
        assert_eq!(
            head.guest_len(),
            head.bytes().len() - head.host_fields_len()
        );
        // Sized once: the buffer that holds the secret never grew (no freed, unwiped copy).
        assert_eq!(head.bytes.capacity(), head.bytes.len());
        assert!(block_names("a:1\nX_API-key: 2\n", "x-api-key"));
        assert!(!block_names("a:1\nx-api-keys: 2", "x-api-key"));
    }

    fn head(
        method: &str,
        authority: &str,
        headers: &str,
        body: usize,
    ) -> Result<String, RequestError> {
        encode_request_head(method, authority, "/p?q", headers, body)
            .map(|v| String::from_utf8(v).unwrap())
    }

    /// RFC 9112 §3 (request line), §3.2 (`Host` first), §6.2 (`Content-Length`); RFC 9110
    /// §8.6 (send `Content-Length: 0` for methods that define a body).
    #[test]
    fn serialization() {
        let cases: &[(&str, &str, &str, usize, &str)] = &[
            (
                "POST",
                "h:8080",
                "content-type:text/plain\nabc: def \n",
                5,
                "POST /p?q HTTP/1.1\r\nHost: h:8080\r\ncontent-type: text/plain\r\nabc: def\r\nContent-Length: 5\r\n\r\n",
            ),
            ("GET", "h", "", 0, "GET /p?q HTTP/1.1\r\nHost: h\r\n\r\n"),
            // `_` is a tchar (RFC 9110 §5.6.2): names not host-owned under `_` → `-` are sent.
            (
                "GET",
                "h",
                "X_Custom: 1\nHost_Name: a",
                0,
                "GET /p?q HTTP/1.1\r\nHost: h\r\nX_Custom: 1\r\nHost_Name: a\r\n\r\n",
            ),
            (
                "PUT",
                "h",
                "",
                0,
                "PUT /p?q HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
            ),
            // Empty lines in the block are skipped; OWS around the value is trimmed.
            (
                "GET",
                "h",
                "\na:\t1\t\n\n",
                0,
                "GET /p?q HTTP/1.1\r\nHost: h\r\na: 1\r\n\r\n",
            ),
            // The guest may name the URL's own authority (any case) and the true length: both
            // are dropped and the host's own written instead.
            (
                "GET",
                "h:81",
                "Host: H:81",
                0,
                "GET /p?q HTTP/1.1\r\nHost: h:81\r\n\r\n",
            ),
            (
                "POST",
                "h",
                "Content-Length: 03",
                3,
                "POST /p?q HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n",
            ),
        ];
        for (method, authority, block, body, want) in cases {
            assert_eq!(
                head(method, authority, block, *body).as_deref(),
                Ok(*want),
                "{block:?}"
            );
        }
    }

    /// `abi.md`, "Header blocks": names are tokens (RFC 9110 §5.1), values have no CR, LF, NUL
    /// or other control byte (RFC 9110 §5.5), every line has a colon.
    #[test]
    fn malformed_header_blocks() {
        let name = RequestError::HeaderBlock("field name is not a token");
        let value =
            RequestError::HeaderBlock("field value contains CR, NUL or another control character");
        let colon = RequestError::HeaderBlock("line without `:`");
        let cases = [
            ("a:b\rc", &value),
            ("a:b\0", &value),
            ("a:\x01", &value),
            ("a:b\r", &value),
            ("a b:c", &name),
            (":v", &name),
            ("a\x7f:b", &name),
            ("novalue", &colon),
        ];
        for (block, want) in cases {
            assert_eq!(head("GET", "h", block, 0).as_ref(), Err(want), "{block:?}");
        }
    }

    /// `abi.md`, "Header blocks": `Host` other than the URL's authority, a
    /// `Content-Length` other than the body's, framing and hop-by-hop fields (RFC 9110 §7.6.1,
    /// RFC 9112 §6) are refused with the name the guest wrote; so is a name that becomes one of
    /// them when `_` is read as `-` (RFC 3875 §4.1.18: CGI folds `-` and `_` together).
    #[test]
    fn host_owned_headers() {
        let cases = [
            ("Host: other", 3, "Host"),
            ("host:h:80", 3, "host"),
            ("Content-Length: 4", 3, "Content-Length"),
            ("Content-Length: 3x", 3, "Content-Length"),
            ("Content-Length:", 0, "Content-Length"),
            ("Transfer-Encoding: chunked", 3, "Transfer-Encoding"),
            ("Connection: close", 3, "Connection"),
            ("Upgrade: websocket", 3, "Upgrade"),
            ("TE: trailers", 3, "TE"),
            ("Trailer: x", 3, "Trailer"),
            ("Keep-Alive: 5", 3, "Keep-Alive"),
            ("Expect: 100-continue", 3, "Expect"),
            ("Max-Forwards: 0", 3, "Max-Forwards"),
            ("max_forwards: 0", 3, "max_forwards"),
            ("Proxy-Authorization: x", 3, "Proxy-Authorization"),
            // A name that is host-owned once `_` reads as `-` (CGI, nginx
            // `underscores_in_headers`): refused even with a harmless value.
            ("Transfer_Encoding: chunked", 3, "Transfer_Encoding"),
            ("content_length: 3", 3, "content_length"),
            ("Content_Length: 4", 3, "Content_Length"),
            ("Keep_Alive: 5", 3, "Keep_Alive"),
            ("Proxy_Authorization: x", 3, "Proxy_Authorization"),
            ("proxy_x: y", 3, "proxy_x"),
        ];
        for (block, body, name) in cases {
            assert_eq!(
                head("POST", "h", block, body),
                Err(RequestError::ForbiddenHeader(name.to_owned())),
                "{block}"
            );
        }
    }

    /// RFC 9110 §9.1: a method is a token; CONNECT and TRACE (RFC 9110 §9.3.8: it echoes the
    /// request, host-injected credentials included) are refused in any case.
    #[test]
    fn methods() {
        for ok in ["GET", "PATCH", "PROPFIND", "x-custom"] {
            assert_eq!(validate_method(ok), Ok(()), "{ok}");
        }
        for bad in [
            "", "GE T", "CONNECT", "connect", "TRACE", "trace", "Trace", "G\r\nET", "GET\0",
        ] {
            assert_eq!(validate_method(bad), Err(RequestError::Method), "{bad:?}");
        }
    }
}
