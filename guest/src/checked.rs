//! Checked calls: the host functions of [`raw::imports`](crate::raw::imports) with slice
//! arguments and typed errors.
//!
//! Each function here passes `(ptr, len)` pairs taken from live slices and pointers to live
//! locals, so it cannot hand the host a dangling or out-of-range pointer: they are safe, and
//! their calls into the imports are the only `unsafe` blocks of this crate. Return codes become
//! `Result`s with [`Error`] (or [`HeaderError`], which keeps the needed length of a too-small
//! buffer), and a `written` count the host reports is checked against the buffer it describes.
//!
//! Use them to send bytes the typed API refuses to build (a non-UTF-8 URL, say), or to manage
//! handles yourself: a handle [`req`] returns must be given to [`close`]. Everything else
//! should prefer [`crate::Request`] and [`crate::IncomingResponse`], which close handles on
//! drop.
//!
//! Off wasm32 the imports are stubs (see [`raw`](crate::raw)), so every function here returns
//! [`Error::RuntimeError`].
#![allow(
    unsafe_code,
    reason = "calling the host imports is inherently unsafe; each call has a SAFETY comment"
)]

use crate::raw::{Handle, imports};
use crate::{Error, HeaderError};

/// Turns a `written` count into a length within `buf_len`.
///
/// A count larger than the buffer can only come from a broken host; reporting it as
/// `runtime_error` keeps callers' `&buf[..n]` from panicking.
fn written_len(written: u32, buf_len: usize) -> Result<usize, Error> {
    match usize::try_from(written) {
        Ok(n) if n <= buf_len => Ok(n),
        _ => Err(Error::RuntimeError),
    }
}

/// Maps a `header_get`/`headers_get_all` result, keeping the needed length the host reports
/// with `buffer_too_small` (0.10 hosts report none; `written` then stays 0).
fn header_result(code: u32, written: u32, buf_len: usize) -> Result<usize, HeaderError> {
    match Error::check(code) {
        Ok(()) => written_len(written, buf_len).map_err(HeaderError::Other),
        Err(Error::BufferTooSmall) => Err(HeaderError::BufferTooSmall {
            needed: usize::try_from(written).ok().filter(|&n| n > buf_len),
        }),
        Err(e) => Err(HeaderError::Other(e)),
    }
}

/// Sends a request: `url`, `method`, `headers` (a header block) and `body` are passed as is.
///
/// Returns the status code and the handle of the response, which the caller must [`close`].
/// abi.md, `req`.
pub fn req(url: &[u8], method: &[u8], headers: &[u8], body: &[u8]) -> Result<(u16, Handle), Error> {
    let mut status: u16 = 0;
    let mut handle: u32 = 0;
    // SAFETY: each (ptr, len) pair comes from a live slice, and the two out-pointers point to
    // live, aligned locals; the host reads and writes nothing else.
    let code = unsafe {
        imports::req(
            url.as_ptr(),
            url.len(),
            method.as_ptr(),
            method.len(),
            headers.as_ptr(),
            headers.len(),
            body.as_ptr(),
            body.len(),
            &mut status,
            &mut handle,
        )
    };
    Error::check(code).map(|()| (status, handle))
}

/// Closes a response handle. The host always succeeds for an open handle. abi.md, `close`.
pub fn close(handle: Handle) -> Result<(), Error> {
    Error::check(imports::close(handle))
}

/// Copies the value of header `name` (case-insensitive; repeated fields joined with `", "`)
/// into `buf` and returns its length.
///
/// A too-small `buf` yields [`HeaderError::BufferTooSmall`] with the needed length when the
/// host reports it. abi.md, `header_get`.
pub fn header_get(handle: Handle, name: &[u8], buf: &mut [u8]) -> Result<usize, HeaderError> {
    let mut written: u32 = 0;
    // SAFETY: `name` and `buf` are live slices and `written` a live, aligned local; the host
    // writes at most `buf.len()` bytes into `buf` and one u32 into `written`.
    let code = unsafe {
        imports::header_get(
            handle,
            name.as_ptr(),
            name.len(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut written,
        )
    };
    header_result(code, written, buf.len())
}

/// Copies the response's header block (`name:value\n` per received field line, names
/// lowercased) into `buf` and returns its length.
///
/// A too-small `buf` yields [`HeaderError::BufferTooSmall`] with the needed length when the
/// host reports it. abi.md, `headers_get_all`.
pub fn headers_get_all(handle: Handle, buf: &mut [u8]) -> Result<usize, HeaderError> {
    let mut written: u32 = 0;
    // SAFETY: `buf` is a live slice and `written` a live, aligned local; the host writes at
    // most `buf.len()` bytes into `buf` and one u32 into `written`.
    let code =
        unsafe { imports::headers_get_all(handle, buf.as_mut_ptr(), buf.len(), &mut written) };
    header_result(code, written, buf.len())
}

/// Copies the next bytes of the response body into `buf` and returns how many; 0 means the
/// body ended (and keeps meaning it). An empty `buf` is `buffer_too_small`. abi.md, `body_read`.
pub fn body_read(handle: Handle, buf: &mut [u8]) -> Result<usize, Error> {
    let mut written: u32 = 0;
    // SAFETY: `buf` is a live slice and `written` a live, aligned local; the host writes at
    // most `buf.len()` bytes into `buf` and one u32 into `written`.
    let code = unsafe { imports::body_read(handle, buf.as_mut_ptr(), buf.len(), &mut written) };
    Error::check(code)?;
    written_len(written, buf.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_beyond_the_buffer_is_a_host_bug_not_a_panic() {
        assert_eq!(written_len(5, 5), Ok(5));
        assert_eq!(written_len(6, 5), Err(Error::RuntimeError));
        assert_eq!(written_len(u32::MAX, 0), Err(Error::RuntimeError));
    }

    #[test]
    fn buffer_too_small_keeps_the_needed_length() {
        assert_eq!(
            header_result(4, 300, 10),
            Err(HeaderError::BufferTooSmall { needed: Some(300) })
        );
        // A 0.10 host writes nothing; 0 (or anything that would have fit) is "unknown".
        assert_eq!(
            header_result(4, 0, 10),
            Err(HeaderError::BufferTooSmall { needed: None })
        );
        assert_eq!(
            header_result(4, 10, 10),
            Err(HeaderError::BufferTooSmall { needed: None })
        );
        assert_eq!(
            header_result(5, 0, 10),
            Err(HeaderError::Other(Error::HeaderNotFound))
        );
        assert_eq!(header_result(0, 7, 10), Ok(7));
    }

    #[test]
    fn native_stubs_report_runtime_error() {
        let mut buf = [0u8; 4];
        assert_eq!(
            req(b"http://127.0.0.1/", b"GET", b"", b""),
            Err(Error::RuntimeError)
        );
        assert_eq!(close(1), Err(Error::RuntimeError));
        assert_eq!(body_read(1, &mut buf), Err(Error::RuntimeError));
        assert_eq!(
            header_get(1, b"a", &mut buf),
            Err(HeaderError::Other(Error::RuntimeError))
        );
        assert_eq!(
            headers_get_all(1, &mut buf),
            Err(HeaderError::Other(Error::RuntimeError))
        );
    }
}
