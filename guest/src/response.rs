//! The allocation-free request and response types.

use crate::raw::Handle;
use crate::{Error, HeaderError, checked};

/// An outgoing request, borrowed from the caller: nothing is copied or allocated.
///
/// ```no_run
/// use wasi_experimental_http::Request;
///
/// let res = Request::new("POST", "http://127.0.0.1:8080/echo")
///     .headers(b"content-type:text/plain\n")
///     .body(b"hello")
///     .send()?;
/// assert_eq!(res.status(), 200);
/// # Ok::<(), wasi_experimental_http::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    method: &'a str,
    url: &'a str,
    headers: &'a [u8],
    body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A request with this method and absolute `http`/`https` URL, no headers and no body.
    pub const fn new(method: &'a str, url: &'a str) -> Self {
        Request {
            method,
            url,
            headers: &[],
            body: &[],
        }
    }

    /// A `GET` request for `url`.
    pub const fn get(url: &'a str) -> Self {
        Request::new("GET", url)
    }

    /// A `POST` request for `url` (add the body with [`body`](Request::body)).
    pub const fn post(url: &'a str) -> Self {
        Request::new("POST", url)
    }

    /// Sets the header block: `name:value` lines separated by `\n`, for instance built with
    /// [`HeaderBlock`](crate::HeaderBlock). The host validates it.
    pub const fn headers(self, headers: &'a [u8]) -> Self {
        Request { headers, ..self }
    }

    /// Sets the body. The host sends `Content-Length` for a non-empty body.
    pub const fn body(self, body: &'a [u8]) -> Self {
        Request { body, ..self }
    }

    /// The method.
    pub const fn method(&self) -> &'a str {
        self.method
    }

    /// The URL.
    pub const fn url(&self) -> &'a str {
        self.url
    }

    /// Sends the request; same as [`send`].
    pub fn send(&self) -> Result<IncomingResponse, Error> {
        send(self)
    }
}

/// Sends `req` and returns the response once its status line and headers have arrived.
///
/// # Errors
/// Any [`Error`] the host's `req` returns: a refused destination, a malformed request, a
/// network or protocol failure, or [`Error::TooManySessions`] when too many responses are open.
pub fn send(req: &Request<'_>) -> Result<IncomingResponse, Error> {
    let (status, handle) = checked::req(
        req.url.as_bytes(),
        req.method.as_bytes(),
        req.headers,
        req.body,
    )?;
    Ok(IncomingResponse { handle, status })
}

/// A response whose headers have arrived; the body is read on demand.
///
/// Owns the host handle and closes it when dropped, which frees the host's slot for another
/// request (hosts limit how many responses a module may keep open).
#[derive(Debug)]
pub struct IncomingResponse {
    handle: Handle,
    status: u16,
}

impl IncomingResponse {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The host handle, for calling [`checked`] (or [`raw::imports`](crate::raw::imports))
    /// functions directly. Still owned by `self`: do not close it.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Reads the next bytes of the body into `buf` and returns how many; `Ok(0)` means the
    /// body is complete (and every later call returns `Ok(0)` again).
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] for an empty `buf` (so that `Ok(0)` always means "end"),
    /// otherwise the network or protocol error that stopped the body; the host repeats that
    /// error on every later call.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        checked::body_read(self.handle, buf)
    }

    /// Copies the value of header `name` into `buf` and returns its length. The name is
    /// case-insensitive; several fields of that name are joined with `", "`.
    ///
    /// # Errors
    /// [`HeaderError::BufferTooSmall`] with the needed length if the value does not fit;
    /// [`HeaderError::Other`] with [`Error::HeaderNotFound`] if there is no such field, or
    /// [`Error::InvalidEncoding`] if `name` is not a token.
    pub fn header(&self, name: &str, buf: &mut [u8]) -> Result<usize, HeaderError> {
        checked::header_get(self.handle, name.as_bytes(), buf)
    }

    /// Copies every received header field into `buf` as a header block (`name:value\n` per
    /// field line, in order, names lowercased; split it with
    /// [`header_lines`](crate::header_lines)) and returns its length.
    ///
    /// # Errors
    /// [`HeaderError::BufferTooSmall`] with the needed length if the block does not fit.
    pub fn headers(&self, buf: &mut [u8]) -> Result<usize, HeaderError> {
        checked::headers_get_all(self.handle, buf)
    }

    /// Closes the handle now and reports the host's answer (dropping closes too, silently).
    pub fn close(self) -> Result<(), Error> {
        let handle = self.handle;
        // Forgetting `self` skips `Drop`, which would close the handle a second time.
        core::mem::forget(self);
        checked::close(handle)
    }
}

impl Drop for IncomingResponse {
    fn drop(&mut self) {
        // The host closes any open handle successfully; an error could only mean the handle is
        // already gone, and there is nobody to report it to.
        let _ = checked::close(self.handle);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn builder_keeps_every_part() {
        let r = Request::get("http://127.0.0.1/")
            .headers(b"a:1\n")
            .body(b"x");
        assert_eq!(r.method(), "GET");
        assert_eq!(r.url(), "http://127.0.0.1/");
        assert_eq!(r.headers, b"a:1\n");
        assert_eq!(r.body, b"x");
        assert_eq!(Request::post("u").method(), "POST");
    }

    #[test]
    fn send_reports_the_host_error() {
        // Natively the imports are stubs answering runtime_error.
        assert_eq!(
            Request::get("http://127.0.0.1/").send().err(),
            Some(Error::RuntimeError)
        );
    }
}
