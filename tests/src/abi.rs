//! Direct calls into the ABI through a hand-written WAT module (`tests/wat/proxy.wat`).
//!
//! [`Proxy`] lays arguments out in the module's single 64 KiB page and reads results back, so
//! tests can state ABI rules without a guest language in between. Every output location is
//! pre-filled with [`POISON`] before a call; on an error return the helpers assert that it is
//! still intact (abi.md: on error no output location is written, the needed-length report of
//! `buffer_too_small` excepted).

use wasi_experimental_http_host::{ErrorCode, HttpCtx};

use crate::run::{WatInstance, run_wat};

/// The proxy module: the five imports re-exported through wasm wrappers, one exported page.
pub const PROXY_WAT: &str = include_str!("../wat/proxy.wat");
/// Same as [`PROXY_WAT`] but without an export named `memory`.
pub const NO_MEMORY_WAT: &str = include_str!("../wat/no_memory.wat");

/// Byte written over every output location before a call.
pub const POISON: u8 = 0xAA;

// Memory layout of the proxy's page. Output locations sit at odd addresses on purpose: the ABI
// says outputs need no alignment.
/// Method bytes.
pub const METHOD_PTR: u32 = 0x0100;
/// `status_code_ptr` (u16 output), unaligned.
pub const STATUS_PTR: u32 = 0x0201;
/// `handle_ptr` (u32 output), unaligned.
pub const HANDLE_PTR: u32 = 0x0213;
/// `written_ptr` (u32 output), unaligned.
pub const WRITTEN_PTR: u32 = 0x0225;
/// Header name for `header_get`.
pub const NAME_PTR: u32 = 0x0300;
/// URL bytes (up to 12 KiB).
pub const URL_PTR: u32 = 0x1000;
/// Request header block (up to 16 KiB).
pub const HEADERS_PTR: u32 = 0x4000;
/// Request body (up to 16 KiB).
pub const BODY_PTR: u32 = 0x8000;
/// Output buffer for `header_get`, `headers_get_all`, `body_read` (up to 16 KiB).
pub const BUF_PTR: u32 = 0xC000;
/// Largest output buffer the layout allows.
pub const BUF_MAX: u32 = 0x4000;

/// The number for an error code, as the guest sees it.
pub fn code(e: ErrorCode) -> i32 {
    e.code() as i32
}

/// The name of a returned code, for assertion messages.
pub fn name(c: i32) -> String {
    u32::try_from(c)
        .ok()
        .and_then(ErrorCode::from_code)
        .map_or_else(
            || format!("unknown code {c}"),
            |e| format!("{c} ({})", e.name()),
        )
}

/// Asserts that `got` is the code `want`, naming both on failure.
#[track_caller]
pub fn assert_code(got: i32, want: ErrorCode, what: &str) {
    assert_eq!(
        got,
        code(want),
        "{what}: expected {}, got {}",
        name(code(want)),
        name(got)
    );
}

/// Result of a call writing into a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufOut {
    /// The returned code.
    pub code: i32,
    /// The u32 at `written_ptr` after the call (`0xAAAAAAAA` if untouched).
    pub written: u32,
    /// `buf[..written]` on success, empty otherwise.
    pub data: Vec<u8>,
}

/// The request arguments as raw i32s, for tests that corrupt one of them.
#[derive(Debug, Clone, Copy)]
pub struct ReqArgs(pub [i32; 10]);

/// The proxy module instantiated in its own store.
pub struct Proxy {
    /// The underlying instance (memory access, raw calls).
    pub inst: WatInstance,
}

/// Reinterprets a u32 as the i32 wasm passes.
pub fn i(v: u32) -> i32 {
    v as i32
}

impl Proxy {
    /// Instantiates the proxy with `ctx`.
    pub fn new(ctx: HttpCtx) -> Proxy {
        Proxy {
            inst: run_wat(PROXY_WAT, ctx),
        }
    }

    /// The store's HTTP context (for the embedder's controls: interrupt, deadline).
    pub fn ctx(&mut self) -> &mut HttpCtx {
        self.inst.ctx()
    }

    /// Size of the proxy's memory in bytes (64 KiB).
    pub fn mem_size(&mut self) -> u32 {
        u32::try_from(self.inst.mem_size()).expect("memory fits u32")
    }

    /// Writes the request inputs at their places and returns matching raw arguments.
    pub fn prepare_req(
        &mut self,
        url: &[u8],
        method: &[u8],
        headers: &[u8],
        body: &[u8],
    ) -> ReqArgs {
        self.inst.write_mem(URL_PTR, url);
        self.inst.write_mem(METHOD_PTR, method);
        self.inst.write_mem(HEADERS_PTR, headers);
        self.inst.write_mem(BODY_PTR, body);
        ReqArgs([
            i(URL_PTR),
            i(url.len() as u32),
            i(METHOD_PTR),
            i(method.len() as u32),
            i(HEADERS_PTR),
            i(headers.len() as u32),
            i(BODY_PTR),
            i(body.len() as u32),
            i(STATUS_PTR),
            i(HANDLE_PTR),
        ])
    }

    fn poison_outputs(&mut self) {
        // Poison a little around each output too, to catch writes of the wrong width.
        self.inst.fill_mem(STATUS_PTR - 1, 4, POISON);
        self.inst.fill_mem(HANDLE_PTR - 1, 6, POISON);
        self.inst.fill_mem(WRITTEN_PTR - 1, 6, POISON);
    }

    /// Asserts that the `req` outputs (status, handle) still hold [`POISON`].
    #[track_caller]
    pub fn assert_outputs_untouched(&mut self, what: &str) {
        assert_eq!(
            self.inst.read_mem(STATUS_PTR - 1, 4),
            [POISON; 4],
            "{what}: status output written on error"
        );
        assert_eq!(
            self.inst.read_mem(HANDLE_PTR - 1, 6),
            [POISON; 6],
            "{what}: handle output written on error"
        );
    }

    /// Calls `req` with raw arguments after poisoning the standard output locations.
    pub fn req_raw(&mut self, args: ReqArgs) -> i32 {
        self.poison_outputs();
        self.inst.call("req", &args.0)
    }

    /// Sends a request; `Ok((status, handle))` or `Err(code)`. On error, asserts that neither
    /// output was written. On success, asserts the bytes around the outputs were left alone.
    #[track_caller]
    pub fn req(
        &mut self,
        url: &str,
        method: &str,
        headers: &str,
        body: &[u8],
    ) -> Result<(u16, u32), i32> {
        self.req_bytes(url.as_bytes(), method.as_bytes(), headers.as_bytes(), body)
    }

    /// [`Proxy::req`] with byte-string inputs (for invalid UTF-8).
    #[track_caller]
    pub fn req_bytes(
        &mut self,
        url: &[u8],
        method: &[u8],
        headers: &[u8],
        body: &[u8],
    ) -> Result<(u16, u32), i32> {
        let args = self.prepare_req(url, method, headers, body);
        let c = self.req_raw(args);
        if c != 0 {
            self.assert_outputs_untouched(&format!("req -> {}", name(c)));
            return Err(c);
        }
        // Neighbours of the outputs stay poisoned: u16 and u32 widths exactly.
        assert_eq!(self.inst.read_mem(STATUS_PTR - 1, 1), [POISON]);
        assert_eq!(self.inst.read_mem(STATUS_PTR + 2, 1), [POISON]);
        assert_eq!(self.inst.read_mem(HANDLE_PTR - 1, 1), [POISON]);
        assert_eq!(self.inst.read_mem(HANDLE_PTR + 4, 1), [POISON]);
        Ok((
            self.inst.read_u16(STATUS_PTR),
            self.inst.read_u32(HANDLE_PTR),
        ))
    }

    /// A GET with no headers and no body that must succeed; returns `(status, handle)`.
    #[track_caller]
    pub fn get(&mut self, url: &str) -> (u16, u32) {
        self.req(url, "GET", "", b"")
            .unwrap_or_else(|c| panic!("GET {url} failed: {}", name(c)))
    }

    /// Calls `close`.
    pub fn close(&mut self, handle: u32) -> i32 {
        self.inst.call("close", &[i(handle)])
    }

    fn buf_call(&mut self, f: &str, args: &[i32], buf_len: u32) -> BufOut {
        self.inst.fill_mem(BUF_PTR, BUF_MAX as usize, POISON);
        self.poison_outputs();
        let c = self.inst.call(f, args);
        let written = self.inst.read_u32(WRITTEN_PTR);
        let around = (
            self.inst.read_mem(WRITTEN_PTR - 1, 1),
            self.inst.read_mem(WRITTEN_PTR + 4, 1),
        );
        assert_eq!(
            around,
            (vec![POISON], vec![POISON]),
            "{f}: wrote beside written_ptr"
        );
        if c == 0 {
            assert!(
                written <= buf_len,
                "{f}: written {written} > buf_len {buf_len}"
            );
            if buf_len < BUF_MAX {
                let tail = self.inst.read_mem(BUF_PTR + buf_len, 1);
                assert_eq!(tail, [POISON], "{f}: wrote past buf_len");
            }
            BufOut {
                code: c,
                written,
                data: self.inst.read_mem(BUF_PTR, written as usize),
            }
        } else {
            // The buffer itself is never written on error (the needed length goes to
            // written_ptr only).
            assert_eq!(
                self.inst.read_mem(BUF_PTR, buf_len.min(BUF_MAX) as usize),
                vec![POISON; buf_len.min(BUF_MAX) as usize],
                "{f} -> {}: buffer written on error",
                name(c)
            );
            if c != code(ErrorCode::BufferTooSmall) {
                assert_eq!(
                    written,
                    0xAAAA_AAAA,
                    "{f} -> {}: written_ptr written on error",
                    name(c)
                );
            }
            BufOut {
                code: c,
                written,
                data: Vec::new(),
            }
        }
    }

    /// Calls `header_get(handle, name, buf[..buf_len], written)`.
    pub fn header_get(&mut self, handle: u32, name: &[u8], buf_len: u32) -> BufOut {
        self.inst.write_mem(NAME_PTR, name);
        let args = [
            i(handle),
            i(NAME_PTR),
            i(name.len() as u32),
            i(BUF_PTR),
            i(buf_len),
            i(WRITTEN_PTR),
        ];
        self.buf_call("header_get", &args, buf_len)
    }

    /// Calls `headers_get_all(handle, buf[..buf_len], written)`.
    pub fn headers_get_all(&mut self, handle: u32, buf_len: u32) -> BufOut {
        let args = [i(handle), i(BUF_PTR), i(buf_len), i(WRITTEN_PTR)];
        self.buf_call("headers_get_all", &args, buf_len)
    }

    /// Calls `body_read(handle, buf[..buf_len], written)`.
    pub fn body_read(&mut self, handle: u32, buf_len: u32) -> BufOut {
        let args = [i(handle), i(BUF_PTR), i(buf_len), i(WRITTEN_PTR)];
        self.buf_call("body_read", &args, buf_len)
    }

    /// Reads the body to its end; `Err((code, bytes read so far))` on an error.
    pub fn read_body(&mut self, handle: u32) -> Result<Vec<u8>, (i32, Vec<u8>)> {
        let mut body = Vec::new();
        loop {
            let out = self.body_read(handle, BUF_MAX);
            if out.code != 0 {
                return Err((out.code, body));
            }
            if out.written == 0 {
                return Ok(body);
            }
            body.extend_from_slice(&out.data);
        }
    }
}
