//! Raw bindings: the `wasi_experimental_http` import module exactly as abi.md declares it.
//!
//! [`imports`] holds the five host functions as `extern` declarations, in the manner of the
//! `wasi`/`wasip1` crates: an escape hatch for passing arguments no safe wrapper would build,
//! such as a deliberately bad range. The same calls with slice arguments and typed errors are
//! in [`crate::checked`]; [`crate::Request`] and [`crate::IncomingResponse`] build on those and
//! close handles on drop.
//!
//! Every parameter and result of the imports is an `i32` in the wasm signature (abi.md,
//! "Conventions"). Pointers and `usize` lengths are 32 bits on wasm32, so the Rust
//! declarations use `*const u8`, `*mut u8` and `usize` where the ABI says "pointer" or
//! "length"; handles, codes and the `written` output are `u32`; the status output is a `u16`
//! (written little-endian by the host, which is wasm's native byte order).
//!
//! Off wasm32 (native unit tests, doc tests, `cargo check` on the host) there is no
//! `wasi_experimental_http` module to import from, and an unresolved import would break linking
//! of every native binary that merely mentions these functions. So on those targets the imports
//! are replaced by stubs with the same signatures that touch no argument and return
//! [`Error::RuntimeError`](crate::Error::RuntimeError)'s code. The documentation shows the
//! wasm32 declarations on every target.

/// The wasm import module every function of this ABI lives in.
pub const MODULE: &str = "wasi_experimental_http";

/// The names of the functions this crate imports from [`MODULE`], in ABI order.
///
/// A drift test compares this list with the functions the host registers.
pub const FUNCTIONS: &[&str] = &["req", "close", "header_get", "headers_get_all", "body_read"];

/// A response handle: a small integer the host assigned; never reused within one store.
pub type Handle = u32;

/// The host functions themselves (abi.md, "Function reference").
///
/// Each returns an error code: 0 for success, otherwise a code
/// [`Error::from_code`](crate::Error::from_code) decodes. Outputs are written only on success,
/// except the needed length that `header_get` and `headers_get_all` write with
/// `buffer_too_small` (abi.md, "Memory contract").
///
/// # Safety
///
/// The host checks every range against the calling module's memory and never traps (abi.md,
/// "Memory contract"), but it reads and writes that memory behind the compiler's back. So, for
/// Rust's sake, every `(ptr, len)` input must be valid for reads of `len` bytes, every output
/// buffer and output location valid for writes of its size (`buf_len` bytes, 2 bytes for
/// `status_code_ptr`, 4 bytes for `handle_ptr` and `written_ptr`), and no Rust reference may
/// be live to the bytes the host writes.
#[allow(
    unsafe_code,
    reason = "declaring foreign functions is inherently unsafe; every call site has a SAFETY comment"
)]
pub mod imports {
    // The declarations rely on `usize` and pointers being 32 bits, i.e. `i32` in wasm.
    #[cfg(target_arch = "wasm32")]
    const _: () = assert!(core::mem::size_of::<usize>() == 4);

    // On wasm32 these are the real imports. Rustdoc also reads them on other targets, so that
    // the documentation shows them everywhere; it links nothing.
    #[cfg(any(target_arch = "wasm32", doc))]
    #[link(wasm_import_module = "wasi_experimental_http")]
    unsafe extern "C" {
        /// Sends one HTTP/1.1 request and waits for the final response head; on success
        /// writes the status (`u16`) to `status_code_ptr`, then the new handle (`u32`) to
        /// `handle_ptr`.
        ///
        /// abi.md, `req`, SYNOPSIS:
        ///
        /// ```text
        /// (import "wasi_experimental_http" "req"
        ///   (func $req (param $url_ptr i32) (param $url_len i32)
        ///              (param $method_ptr i32) (param $method_len i32)
        ///              (param $headers_ptr i32) (param $headers_len i32)
        ///              (param $body_ptr i32) (param $body_len i32)
        ///              (param $status_code_ptr i32) (param $handle_ptr i32)
        ///              (result i32)))
        /// ```
        ///
        /// # Safety
        ///
        /// See [the module](self): the four input ranges readable, the two output locations
        /// writable.
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

        /// Releases a response handle. Takes no pointer, so it cannot touch guest memory and
        /// is safe to call.
        ///
        /// abi.md, `close`, SYNOPSIS:
        ///
        /// ```text
        /// (import "wasi_experimental_http" "close"
        ///   (func $close (param $handle i32) (result i32)))
        /// ```
        pub safe fn close(handle: u32) -> u32;

        /// Copies the value of the response header field `name` (every field line of that
        /// name, joined with `", "`) to `buf_ptr` and its length to `written_ptr`; with
        /// `buffer_too_small` writes only the needed length to `written_ptr`.
        ///
        /// abi.md, `header_get`, SYNOPSIS:
        ///
        /// ```text
        /// (import "wasi_experimental_http" "header_get"
        ///   (func $header_get (param $handle i32)
        ///                     (param $name_ptr i32) (param $name_len i32)
        ///                     (param $buf_ptr i32) (param $buf_len i32)
        ///                     (param $written_ptr i32)
        ///                     (result i32)))
        /// ```
        ///
        /// # Safety
        ///
        /// See [the module](self): the name range readable, the buffer and the 4 bytes at
        /// `written_ptr` writable.
        pub fn header_get(
            handle: u32,
            name_ptr: *const u8,
            name_len: usize,
            buf_ptr: *mut u8,
            buf_len: usize,
            written_ptr: *mut u32,
        ) -> u32;

        /// Copies the whole response header section as a header block to `buf_ptr` and its
        /// length to `written_ptr`; with `buffer_too_small` writes only the needed length to
        /// `written_ptr`.
        ///
        /// abi.md, `headers_get_all`, SYNOPSIS:
        ///
        /// ```text
        /// (import "wasi_experimental_http" "headers_get_all"
        ///   (func $headers_get_all (param $handle i32)
        ///                          (param $buf_ptr i32) (param $buf_len i32)
        ///                          (param $written_ptr i32)
        ///                          (result i32)))
        /// ```
        ///
        /// # Safety
        ///
        /// See [the module](self): the buffer and the 4 bytes at `written_ptr` writable.
        pub fn headers_get_all(
            handle: u32,
            buf_ptr: *mut u8,
            buf_len: usize,
            written_ptr: *mut u32,
        ) -> u32;

        /// Copies the next decoded body bytes to `buf_ptr` and their count to `written_ptr`
        /// (0 only at the end of the body).
        ///
        /// abi.md, `body_read`, SYNOPSIS:
        ///
        /// ```text
        /// (import "wasi_experimental_http" "body_read"
        ///   (func $body_read (param $handle i32)
        ///                    (param $buf_ptr i32) (param $buf_len i32)
        ///                    (param $written_ptr i32)
        ///                    (result i32)))
        /// ```
        ///
        /// # Safety
        ///
        /// See [the module](self): the buffer and the 4 bytes at `written_ptr` writable.
        pub fn body_read(
            handle: u32,
            buf_ptr: *mut u8,
            buf_len: usize,
            written_ptr: *mut u32,
        ) -> u32;
    }

    #[cfg(not(any(target_arch = "wasm32", doc)))]
    pub use stubs::*;

    /// Native stand-ins: there is no host to call, so every function reports `runtime_error`.
    /// They keep the wasm signatures (including `unsafe`) so callers compile unchanged.
    #[cfg(not(any(target_arch = "wasm32", doc)))]
    #[allow(
        missing_docs,
        clippy::missing_safety_doc,
        clippy::too_many_arguments,
        reason = "stand-ins for the declarations above, which rustdoc shows on every target"
    )]
    mod stubs {
        /// What every stand-in returns, taken from the error type.
        const RUNTIME_ERROR: u32 = crate::Error::RuntimeError.code();

        macro_rules! stubs {
            ($( fn $name:ident($($ty:ty),*); )*) => {$(
                pub unsafe fn $name($(_: $ty),*) -> u32 {
                    RUNTIME_ERROR
                }
            )*};
        }

        stubs! {
            fn req(*const u8, usize, *const u8, usize, *const u8, usize, *const u8, usize,
                *mut u16, *mut u32);
            fn header_get(u32, *const u8, usize, *mut u8, usize, *mut u32);
            fn headers_get_all(u32, *mut u8, usize, *mut u32);
            fn body_read(u32, *mut u8, usize, *mut u32);
        }

        pub fn close(_handle: u32) -> u32 {
            RUNTIME_ERROR
        }
    }
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

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn native_stubs_return_the_runtime_error_code() {
        use crate::Error;
        let code = Error::RuntimeError.code();
        assert_eq!(imports::close(1), code);
        let mut buf = [0u8; 4];
        let mut written = 0u32;
        // SAFETY: the native stubs touch none of their arguments; the pointers are live anyway.
        #[allow(
            unsafe_code,
            reason = "calling the stubs through their unsafe signatures"
        )]
        let got = unsafe { imports::body_read(1, buf.as_mut_ptr(), buf.len(), &mut written) };
        assert_eq!(got, code);
    }
}
