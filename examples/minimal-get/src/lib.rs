//! `minimal-get URL`: sends `GET URL` and prints `status: <n>` and `body: ` followed by the
//! whole body, or `error: <code>` (abi.md's number). Exits 0 on success, 1 on any error.
//!
//! Everything is on the stack and I/O uses raw WASI preview1 imports, so the module is a few
//! kilobytes: the size floor for a guest using this ABI.
#![no_std]

use wasi_experimental_http::Error;
use wasi_experimental_http::checked::{body_read, close, req};

/// Room for the arguments; longer command lines are refused rather than truncated.
const MAX_ARGS: usize = 8;
const ARGS_BUF: usize = 8 * 1024;
/// The body is read and printed in pieces of this size.
const BODY_CHUNK: usize = 1024;

#[allow(unsafe_code, reason = "WASI imports; each call has a SAFETY comment")]
mod wasi {
    /// A WASI `ciovec`: one buffer for `fd_write`.
    #[repr(C)]
    pub struct Ciovec {
        pub buf: *const u8,
        pub len: usize,
    }

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        #[link_name = "args_sizes_get"]
        fn args_sizes_get_raw(argc: *mut usize, argv_buf_size: *mut usize) -> u32;
        #[link_name = "args_get"]
        fn args_get_raw(argv: *mut *mut u8, argv_buf: *mut u8) -> u32;
        #[link_name = "fd_write"]
        fn fd_write_raw(fd: u32, iovs: *const Ciovec, iovs_len: usize, nwritten: *mut usize)
        -> u32;
        /// Ends the process; touches no memory.
        pub safe fn proc_exit(code: u32) -> !;
    }

    /// Fills `argv` and `buf` with the arguments and returns how many there are, or `None` if
    /// they do not fit (or WASI failed).
    pub fn args_get(argv: &mut [*mut u8], buf: &mut [u8]) -> Option<usize> {
        let (mut argc, mut size) = (0usize, 0usize);
        // SAFETY: both out-pointers point to live, aligned locals.
        if unsafe { args_sizes_get_raw(&mut argc, &mut size) } != 0 {
            return None;
        }
        if argc > argv.len() || size > buf.len() {
            return None;
        }
        // SAFETY: the host writes `argc` pointers into `argv` and `size` bytes into `buf`, and
        // both were just checked to have that much room.
        (unsafe { args_get_raw(argv.as_mut_ptr(), buf.as_mut_ptr()) } == 0).then_some(argc)
    }

    /// Writes all of `bytes` to `fd`, giving up silently on error (there is nowhere to report
    /// it).
    pub fn write_all(fd: u32, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let iov = Ciovec {
                buf: bytes.as_ptr(),
                len: bytes.len(),
            };
            let mut written = 0usize;
            // SAFETY: `iov` describes a live slice and `written` is a live, aligned local.
            let err = unsafe { fd_write_raw(fd, &iov, 1, &mut written) };
            match bytes.get(written..) {
                Some(rest) if err == 0 && written > 0 => bytes = rest,
                _ => return,
            }
        }
    }
}

fn print(bytes: &[u8]) {
    wasi::write_all(1, bytes);
}

/// Formats `n` in decimal into `buf` and returns the digits.
fn decimal(mut n: u16, buf: &mut [u8; 5]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            return buf.get(i..).unwrap_or_default();
        }
    }
}

/// The URL argument (argv[1]), located inside `buf` by the pointer WASI wrote. Bytes, not
/// `&str`: the host checks UTF-8 (`utf8_error`), and `core::str::from_utf8` would cost this
/// module a validator and its 256-byte table.
fn url_arg<'b>(argv: &[*mut u8], argc: usize, buf: &'b [u8]) -> Option<&'b [u8]> {
    if argc < 2 {
        return None;
    }
    let offset = (*argv.get(1)? as usize).checked_sub(buf.as_ptr() as usize)?;
    let arg = buf.get(offset..)?;
    let end = arg.iter().position(|&b| b == 0)?;
    arg.get(..end)
}

fn run() -> Result<(), Error> {
    let mut argv = [core::ptr::null_mut(); MAX_ARGS];
    let mut buf = [0u8; ARGS_BUF];
    let argc = wasi::args_get(&mut argv, &mut buf).unwrap_or(0);
    let Some(url) = url_arg(&argv, argc, &buf) else {
        print(b"usage: minimal-get URL\n");
        wasi::proc_exit(1);
    };

    // The crate's checked layer: slices in, typed errors out, no allocation.
    let (status, handle) = req(url, b"GET", b"", b"")?;
    let mut digits = [0u8; 5];
    print(b"status: ");
    print(decimal(status, &mut digits));
    print(b"\n");

    let mut buf = [0u8; BODY_CHUNK];
    print(b"body: ");
    loop {
        let n = body_read(handle, &mut buf)?;
        if n == 0 {
            break;
        }
        print(buf.get(..n).unwrap_or_default());
    }
    print(b"\n");
    close(handle)
}

/// The command entry point the host calls.
#[allow(
    unsafe_code,
    reason = "exporting an unmangled symbol is an unsafe attribute"
)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() {
    match run() {
        Ok(()) => wasi::proc_exit(0),
        Err(e) => {
            // The code's number, not its name: the table of 36 names would be a third of
            // the module (abi.md's table maps numbers to names).
            let mut digits = [0u8; 5];
            print(b"error: ");
            print(decimal(e.code() as u16, &mut digits));
            print(b"\n");
            wasi::proc_exit(1);
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
