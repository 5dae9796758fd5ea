//! The 0.10 crate's API over the `http` crate (feature `http`), so existing guests keep
//! compiling after swapping the dependency.
//!
//! Differences from 0.10, all deliberate:
//! - errors are a [`CompatError`] instead of `anyhow::Error`; it implements
//!   `std::error::Error + Send + Sync`, so `?` into `anyhow`, `.unwrap()` and `.expect()` keep
//!   working, and it can be matched on;
//! - `http` 1.x instead of 0.2;
//! - repeated response header fields are all kept (`HeaderMap::append`), not only the last;
//! - header values and header blocks that cannot be represented are errors, never panics.

use alloc::{
    string::{String, ToString},
    vec::Vec,
};
use core::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::{Error, IncomingResponse, Request, header_block};

/// The error of the `http`-feature API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompatError {
    /// The host returned an error code.
    Abi(Error),
    /// A value could not be converted to or from the `http` crate's types.
    Invalid(&'static str),
}

impl CompatError {
    /// The host error code, if this is one.
    pub const fn abi(self) -> Option<Error> {
        match self {
            CompatError::Abi(e) => Some(e),
            CompatError::Invalid(_) => None,
        }
    }
}

impl From<Error> for CompatError {
    fn from(e: Error) -> Self {
        CompatError::Abi(e)
    }
}

impl fmt::Display for CompatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompatError::Abi(e) => fmt::Display::fmt(e, f),
            CompatError::Invalid(what) => f.write_str(what),
        }
    }
}

impl core::error::Error for CompatError {}

/// An HTTP response whose headers have arrived; the body is read on demand.
///
/// The handle is closed when the `Response` is dropped.
#[derive(Debug)]
pub struct Response {
    inner: IncomingResponse,
    /// The response status.
    pub status_code: StatusCode,
}

impl Response {
    /// Reads the next bytes of the body into `buf` and returns how many; `0` means the body is
    /// complete.
    pub fn body_read(&mut self, buf: &mut [u8]) -> Result<usize, CompatError> {
        Ok(self.inner.read(buf)?)
    }

    /// Reads the rest of the body.
    pub fn body_read_all(&mut self) -> Result<Vec<u8>, CompatError> {
        Ok(self.inner.read_to_end()?)
    }

    /// The value of header `name` (case-insensitive; repeated fields joined with `", "`).
    ///
    /// Fails with [`Error::HeaderNotFound`] if there is no such field.
    pub fn header_get(&self, name: String) -> Result<String, CompatError> {
        Ok(self.inner.header_string(&name)?)
    }

    /// Every header field of the response.
    ///
    /// If you know which header you need, [`header_get`](Response::header_get) copies less.
    pub fn headers_get_all(&self) -> Result<HeaderMap, CompatError> {
        string_to_header_map(&self.inner.headers_string()?)
    }
}

/// Sends an HTTP request and returns the response once its headers have arrived.
///
/// The URL is `req.uri().to_string()`, so the URI must be absolute (`http://host/...`).
/// ```no_run
/// use bytes::Bytes;
///
/// let req = http::Request::builder()
///     .method(http::Method::POST)
///     .uri("http://127.0.0.1:8080/post")
///     .header("Content-Type", "text/plain")
///     .body(Some(Bytes::from("hello")))?;
/// let mut res = wasi_experimental_http::request(req)?;
/// let body = res.body_read_all()?;
/// println!("{} {:?}", res.status_code, res.header_get("Content-Type".to_string()));
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub fn request(req: http::Request<Option<Bytes>>) -> Result<Response, CompatError> {
    let url = req.uri().to_string();
    let headers = header_map_to_string(req.headers())?;
    let body: &[u8] = req.body().as_deref().unwrap_or_default();
    let inner = Request::new(req.method().as_str(), &url)
        .headers(headers.as_bytes())
        .body(body)
        .send()?;
    // Dropping `inner` on this error closes the handle.
    let status_code = StatusCode::from_u16(inner.status())
        .map_err(|_| CompatError::Invalid("status code out of range"))?;
    Ok(Response { inner, status_code })
}

/// Sends an HTTP request and reads the whole response, headers and body.
pub fn send_request(
    req: http::Request<Option<Bytes>>,
) -> Result<http::Response<Option<Bytes>>, CompatError> {
    request(req)?.try_into()
}

impl TryFrom<Response> for http::Response<Option<Bytes>> {
    type Error = CompatError;

    fn try_from(mut res: Response) -> Result<Self, Self::Error> {
        let headers = res.headers_get_all()?;
        let body = Bytes::from(res.body_read_all()?);
        let mut out = http::Response::new(Some(body));
        *out.status_mut() = res.status_code;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

/// Encodes a header map as a header block (`name:value\n` per value).
///
/// Fails if a value is not UTF-8 or contains a control character other than HTAB.
pub fn header_map_to_string(hm: &HeaderMap) -> Result<String, CompatError> {
    let mut res = String::new();
    for (name, value) in hm {
        let value = core::str::from_utf8(value.as_bytes())
            .map_err(|_| CompatError::Invalid("header value is not UTF-8"))?;
        // `HeaderName` is always a token, but a value built with `from_maybe_shared_unchecked`
        // may hold anything, and a `\n` in it would inject a header line.
        if !header_block::is_valid_value(value.as_bytes()) {
            return Err(CompatError::Invalid(
                "header value contains a control character",
            ));
        }
        res.push_str(name.as_str());
        res.push(':');
        res.push_str(value);
        res.push('\n');
    }
    Ok(res)
}

/// Decodes a header block (`name:value` lines; `\n` or `\r\n` line ends) into a header map.
///
/// Empty lines are skipped; values are trimmed of spaces and tabs; repeated names are all kept.
/// Fails on a line without `:` or with an invalid name or value.
pub fn string_to_header_map(s: &str) -> Result<HeaderMap, CompatError> {
    let mut headers = HeaderMap::new();
    for line in s.lines().filter(|l| !l.is_empty()) {
        let (name, value) = header_block::split_header_line(line)
            .map_err(|_| CompatError::Invalid("invalid serialized header"))?;
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| CompatError::Invalid("invalid header name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| CompatError::Invalid("invalid header value"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "a panic in a test is a failed test"
    )]

    use super::*;

    #[test]
    fn test_header_map_to_string() {
        // The 0.10 crate's own test.
        let mut hm = HeaderMap::new();
        hm.insert("custom-header", HeaderValue::from_static("custom-value"));
        hm.insert("custom-header2", HeaderValue::from_static("custom-value2"));
        let str = header_map_to_string(&hm).unwrap();
        assert_eq!(
            "custom-header:custom-value\ncustom-header2:custom-value2\n",
            str
        );
    }

    #[test]
    fn repeated_values_round_trip() {
        let mut hm = HeaderMap::new();
        hm.append("set-cookie", HeaderValue::from_static("a=1"));
        hm.append("set-cookie", HeaderValue::from_static("b=2"));
        hm.append("x", HeaderValue::from_static("tab\there"));
        let s = header_map_to_string(&hm).unwrap();
        assert_eq!(s, "set-cookie:a=1\nset-cookie:b=2\nx:tab\there\n");
        assert_eq!(string_to_header_map(&s).unwrap(), hm);
    }

    #[test]
    fn values_that_are_not_text_are_errors_not_panics() {
        let mut hm = HeaderMap::new();
        hm.insert("x", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert_eq!(
            header_map_to_string(&hm),
            Err(CompatError::Invalid("header value is not UTF-8"))
        );
    }

    #[test]
    fn decoding_accepts_the_original_formats_and_rejects_garbage() {
        let hm = string_to_header_map("a:1\r\nb: 2 \n\nA:3").unwrap();
        assert_eq!(hm.get_all("a").iter().collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(hm.get("b").unwrap(), "2");
        for bad in ["novalue", ":v", "a b:c", "a:\u{1}"] {
            assert!(string_to_header_map(bad).is_err(), "{bad:?}");
        }
        assert_eq!(string_to_header_map("").unwrap().len(), 0);
    }

    #[test]
    fn errors_display_and_convert() {
        let e = CompatError::from(Error::HeaderNotFound);
        assert_eq!(e.abi(), Some(Error::HeaderNotFound));
        assert_eq!(e.to_string(), Error::HeaderNotFound.to_string());
        assert_eq!(CompatError::Invalid("x").to_string(), "x");
        fn assert_send_sync<T: std::error::Error + Send + Sync + 'static>() {}
        assert_send_sync::<CompatError>();
        let _: std::boxed::Box<dyn std::error::Error + Send + Sync> = std::boxed::Box::new(e);
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn request_reports_the_host_error() {
        let req = http::Request::get("http://127.0.0.1/").body(None).unwrap();
        assert_eq!(
            request(req).err(),
            Some(CompatError::Abi(Error::RuntimeError))
        );
        let req = http::Request::get("http://127.0.0.1/").body(None).unwrap();
        assert_eq!(
            send_request(req).err(),
            Some(CompatError::Abi(Error::RuntimeError))
        );
    }
}
