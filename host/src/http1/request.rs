//! Request validation and serialization: `abi.md`, "Header block" and "What the host sends".

use super::{is_field_value_byte, is_tchar, trim_ows};
use crate::error::HttpError;
use crate::limits::MAX_METHOD_LEN;
use crate::url::Target;

/// Checks the method: a token (RFC 9110 §9.1), at most `MAX_METHOD_LEN` bytes, not CONNECT
/// (a tunnel would hand the guest a raw socket past every policy).
pub(crate) fn validate_method(method: &str) -> Result<(), HttpError> {
    if method.is_empty()
        || method.len() > MAX_METHOD_LEN
        || !method.bytes().all(is_tchar)
        || method.eq_ignore_ascii_case("CONNECT")
    {
        return Err(HttpError::InvalidMethod);
    }
    Ok(())
}

/// Methods a client may retry on its own (RFC 9110 §9.2.2).
pub(crate) fn is_idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}

/// Headers that frame the message or steer the connection: the host's, never the guest's
/// (RFC 9110 §7.6.1 hop-by-hop fields; RFC 9112 §6 framing). Letting a guest set them would let
/// it smuggle a second request or reuse the connection for something the host did not check.
fn is_forbidden(name: &str) -> bool {
    const FORBIDDEN: [&str; 7] = [
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
    ];
    FORBIDDEN.iter().any(|f| name.eq_ignore_ascii_case(f))
        || name
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("proxy-"))
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
/// Validates the guest's header block and serializes the request head.
///
/// The body is not copied here: the caller writes it straight from guest memory after the head.
pub(crate) fn encode_request_head(
    method: &str,
    target: &Target,
    header_block: &str,
    body_len: usize,
) -> Result<Vec<u8>, HttpError> {
    let authority = target.origin.authority();
    let mut out = Vec::with_capacity(128 + header_block.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(authority.as_bytes());
    out.extend_from_slice(b"\r\n");

    for line in header_block.split('\n') {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(HttpError::InvalidHeaderBlock("line without `:`"))?;
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(HttpError::InvalidHeaderBlock("field name is not a token"));
        }
        let value = trim_ows(value.as_bytes());
        if !value.iter().all(|&b| is_field_value_byte(b)) {
            return Err(HttpError::InvalidHeaderBlock(
                "field value contains CR, NUL or another control character",
            ));
        }
        if name.eq_ignore_ascii_case("host") {
            // Naming the URL's own authority is harmless; anything else would reach another
            // virtual host behind an allowed address.
            if value.eq_ignore_ascii_case(authority.as_bytes()) {
                continue;
            }
            return Err(HttpError::ForbiddenHeader(name.to_owned()));
        }
        if name.eq_ignore_ascii_case("content-length") {
            // Old guests set it from the body they pass; a different number would desync the
            // framing, so only the true length is tolerated (and replaced by ours).
            if decimal(value) == Some(body_len as u64) {
                continue;
            }
            return Err(HttpError::ForbiddenHeader(name.to_owned()));
        }
        if is_forbidden(name) {
            return Err(HttpError::ForbiddenHeader(name.to_owned()));
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    // RFC 9110 §8.6: a user agent SHOULD send Content-Length when the method defines a meaning
    // for a body, even when it is empty.
    if body_len > 0 || matches!(method, "POST" | "PUT" | "PATCH") {
        out.extend_from_slice(format!("Content-Length: {body_len}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::ErrorCode;
    use crate::url::parse_url;

    fn head(method: &str, url: &str, headers: &str, body: usize) -> Result<String, ErrorCode> {
        let t = parse_url(url, 8192).unwrap();
        encode_request_head(method, &t, headers, body)
            .map(|v| String::from_utf8(v).unwrap())
            .map_err(|e| e.code())
    }

    #[test]
    fn serializes_request_line_host_headers_and_length() {
        assert_eq!(
            head(
                "POST",
                "http://h:8080/p?q",
                "content-type:text/plain\nabc: def \n",
                5
            )
            .unwrap(),
            "POST /p?q HTTP/1.1\r\nHost: h:8080\r\ncontent-type: text/plain\r\nabc: def\r\nContent-Length: 5\r\n\r\n"
        );
        assert_eq!(
            head("GET", "https://h/", "", 0).unwrap(),
            "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        );
        assert_eq!(
            head("PUT", "http://h/", "", 0).unwrap(),
            "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn rejects_control_bytes_and_bad_names() {
        for block in [
            "a:b\rc", "a:b\0", "a b:c", ":v", "novalue", "a:\x01", "a\x7f:b", "a:b\r",
        ] {
            assert_eq!(
                head("GET", "http://h/", block, 0),
                Err(ErrorCode::InvalidEncoding),
                "{block:?}"
            );
        }
    }

    #[test]
    fn host_owned_headers() {
        assert!(head("GET", "http://h:81/", "Host: H:81", 0).is_ok());
        assert!(head("GET", "http://h/", "host:h", 0).is_ok());
        assert_eq!(
            head("GET", "http://h/", "host:h:80", 0),
            Err(ErrorCode::ForbiddenHeader)
        );
        assert!(head("POST", "http://h/", "Content-Length: 3", 3).is_ok());
        assert!(head("POST", "http://h/", "Content-Length: 03", 3).is_ok());
        assert_eq!(
            head("POST", "http://h/", "Content-Length: 3x", 3),
            Err(ErrorCode::ForbiddenHeader)
        );
        assert_eq!(
            head("POST", "http://h/", "Content-Length:", 0),
            Err(ErrorCode::ForbiddenHeader)
        );
        for block in [
            "Host: other",
            "Content-Length: 4",
            "Transfer-Encoding: chunked",
            "Connection: close",
            "Upgrade: websocket",
            "TE: trailers",
            "Trailer: x",
            "Keep-Alive: 5",
            "Expect: 100-continue",
            "Proxy-Authorization: x",
        ] {
            assert_eq!(
                head("POST", "http://h/", block, 3),
                Err(ErrorCode::ForbiddenHeader),
                "{block}"
            );
        }
    }

    #[test]
    fn methods() {
        for ok in ["GET", "PATCH", "PROPFIND", "x-custom"] {
            assert!(validate_method(ok).is_ok());
        }
        for bad in ["", "GE T", "CONNECT", "connect", "G\r\nET", "GET\0"] {
            assert!(validate_method(bad).is_err(), "{bad:?}");
        }
        assert!(validate_method(&"A".repeat(65)).is_err());
    }
}
