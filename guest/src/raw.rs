//! The host functions of the `wasi_experimental_http` import module, and thin safe wrappers.
//!
//! Every parameter and result of the imports is an `i32` in the wasm signature. Pointers and
//! `usize` lengths are 32 bits on wasm32, so the Rust declarations below use `*const u8`,
//! `*mut u8` and `usize` where the ABI says "pointer" or "length"; handles, codes and the
//! `written` out-parameter are `u32`; the status out-parameter is a `u16` (written little-endian
//! by the host, which is wasm's native byte order).
//!
//! The wrappers take slices, so they cannot pass a dangling or out-of-range pointer: they are
//! safe, and they are the only place in this crate with `unsafe` code. Use them directly to send
//! bytes the typed API refuses to build (a non-UTF-8 URL, say); everything else should prefer
//! [`crate::Request`] and [`crate::IncomingResponse`], which close handles on drop.
//!
//! Off wasm32 (native unit tests, doc tests, `cargo check` on the host) there is no
//! `wasi_experimental_http` module to import from, and an unresolved import would break linking
//! of every native binary that merely mentions these functions. So on those targets the imports
//! are replaced by stubs that return `runtime_error` (12) without touching their arguments.
#![allow(
    unsafe_code,
    reason = "calling the host imports is inherently unsafe; each call has a SAFETY comment"
)]

use crate::{Error, HeaderError};

/// The wasm import module every function of this ABI lives in.
pub const MODULE: &str = "wasi_experimental_http";

/// The names of the functions this crate imports from [`MODULE`], in ABI order.
///
/// A drift test compares this list with the functions the host registers.
pub const FUNCTIONS: &[&str] = &["req", "close", "header_get", "headers_get_all", "body_read"];

/// A response handle: a small integer the host assigned; never reused within one store.
pub type Handle = u32;

#[cfg(target_arch = "wasm32")]
mod imports {
    // The declarations rely on `usize` and pointers being 32 bits, i.e. `i32` in wasm.
    const _: () = assert!(core::mem::size_of::<usize>() == 4);

    #[link(wasm_import_module = "wasi_experimental_http")]
    unsafe extern "C" {
        /// Sends a request. Reads `url`, `method`, `headers` (header block) and `body` from the
        /// given ranges; on success writes the status (u16) and the response handle (u32).
        pub fn req(
            url_ptr: *const u8,
            url_len: usize,
            method_ptr: *const u8,
            method_len: usize,
            headers_ptr: *const u8,
            headers_len: usize,
            body_ptr: *const u8,
            body_len: usize,
            status_code_ptr: *mut u16,
            handle_ptr: *mut u32,
        ) -> u32;

        /// Closes a response handle. Takes no pointers, so it cannot touch guest memory.
        pub safe fn close(handle: u32) -> u32;

        /// Copies the value of header `name` into `buf`, writing its length to `written_ptr`;
        /// on `buffer_too_small` writes the needed length there instead.
        pub fn header_get(
            handle: u32,
            name_ptr: *const u8,
            name_len: usize,
            buf_ptr: *mut u8,
            buf_len: usize,
            written_ptr: *mut u32,
        ) -> u32;

        /// Copies the response's header block into `buf`, writing its length to `written_ptr`;
        /// on `buffer_too_small` writes the needed length there instead.
        pub fn headers_get_all(
            handle: u32,
            buf_ptr: *mut u8,
            buf_len: usize,
            written_ptr: *mut u32,
        ) -> u32;

        /// Copies the next bytes of the body into `buf`, writing how many to `written_ptr`
        /// (0 = end of body).
        pub fn body_read(
            handle: u32,
            buf_ptr: *mut u8,
            buf_len: usize,
            written_ptr: *mut u32,
        ) -> u32;
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imports {
    //! Native stand-ins: there is no host to call, so every function reports `runtime_error`.
    //! They keep the wasm signatures (including `unsafe`) so the wrappers compile unchanged.

    const RUNTIME_ERROR: u32 = 12;

    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors the ABI's `req` signature"
    )]
    pub unsafe fn req(
        _url_ptr: *const u8,
        _url_len: usize,
        _method_ptr: *const u8,
        _method_len: usize,
        _headers_ptr: *const u8,
        _headers_len: usize,
        _body_ptr: *const u8,
        _body_len: usize,
        _status_code_ptr: *mut u16,
        _handle_ptr: *mut u32,
    ) -> u32 {
        RUNTIME_ERROR
    }

    pub fn close(_handle: u32) -> u32 {
        RUNTIME_ERROR
    }

    pub unsafe fn header_get(
        _handle: u32,
        _name_ptr: *const u8,
        _name_len: usize,
        _buf_ptr: *mut u8,
        _buf_len: usize,
        _written_ptr: *mut u32,
    ) -> u32 {
        RUNTIME_ERROR
    }

    pub unsafe fn headers_get_all(
        _handle: u32,
        _buf_ptr: *mut u8,
        _buf_len: usize,
        _written_ptr: *mut u32,
    ) -> u32 {
        RUNTIME_ERROR
    }

    pub unsafe fn body_read(
        _handle: u32,
        _buf_ptr: *mut u8,
        _buf_len: usize,
        _written_ptr: *mut u32,
    ) -> u32 {
        RUNTIME_ERROR
    }
}

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

/// Closes a response handle. The host always succeeds for an open handle.
pub fn close(handle: Handle) -> Result<(), Error> {
    Error::check(imports::close(handle))
}

/// Copies the value of header `name` (case-insensitive; repeated fields joined with `", "`)
/// into `buf` and returns its length.
///
/// A too-small `buf` yields [`HeaderError::BufferTooSmall`] with the needed length when the
/// host reports it.
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
/// host reports it.
pub fn headers_get_all(handle: Handle, buf: &mut [u8]) -> Result<usize, HeaderError> {
    let mut written: u32 = 0;
    // SAFETY: `buf` is a live slice and `written` a live, aligned local; the host writes at
    // most `buf.len()` bytes into `buf` and one u32 into `written`.
    let code =
        unsafe { imports::headers_get_all(handle, buf.as_mut_ptr(), buf.len(), &mut written) };
    header_result(code, written, buf.len())
}

/// Copies the next bytes of the response body into `buf` and returns how many; 0 means the
/// body ended (and keeps meaning it). An empty `buf` is `buffer_too_small`.
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
    fn function_list_is_the_abi() {
        assert_eq!(
            FUNCTIONS,
            ["req", "close", "header_get", "headers_get_all", "body_read"]
        );
    }

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
