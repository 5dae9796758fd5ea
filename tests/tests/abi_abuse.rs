//! Hostile guests: every argument of every function abused, through hand-written WAT
//! (`tests/wat/proxy.wat`). Each test names the rule it checks and cites abi.md.
//!
//! Common expectations, checked by the `e2e::abi::Proxy` helpers on every call: no trap; on an
//! error return no output location is written (outputs are pre-filled with 0xAA); outputs are
//! little-endian at unaligned addresses.

use e2e::abi::{
    BUF_MAX, BUF_PTR, HANDLE_PTR, NAME_PTR, NO_MEMORY_WAT, POISON, Proxy, ReqArgs, STATUS_PTR,
    WRITTEN_PTR, assert_code, i, name,
};
use e2e::ctx_allowing;
use e2e::run::run_wat;
use e2e::server::{Reply, TestServer};
use wasi_experimental_http_host::{ErrorCode as E, HttpCtx};

/// The response most tests read: a repeated field, and a 5-byte body.
const RESPONSE: &str =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Multi: a\r\nx-multi:  b \r\n\r\nhello";

/// A server that must never be contacted, and a proxy allowed to reach it.
fn untouchable() -> (TestServer, Proxy) {
    let server = TestServer::scripted(vec![]);
    let proxy = Proxy::new(ctx_allowing([server.origin()]));
    (server, proxy)
}

/// A server with `n` copies of [`RESPONSE`] queued, and a proxy allowed to reach it.
fn serving(n: usize) -> (TestServer, Proxy) {
    let server = TestServer::scripted(vec![Reply::raw(RESPONSE); n]);
    let proxy = Proxy::new(ctx_allowing([server.origin()]));
    (server, proxy)
}

/// What makes a pointer argument out of bounds.
#[derive(Clone, Copy, Debug)]
enum Bad {
    /// An input range `(ptr, len)`: lengths stay small so that no size limit (URL, header
    /// block, body) can fire before the bounds check.
    Input,
    /// An output buffer `(ptr, len)`, which has no size limit: the [`Bad::Input`] ranges and
    /// huge lengths.
    Buffer,
    /// A 2-byte output location (a pointer without a length).
    Out2,
    /// A 4-byte output location.
    Out4,
}

impl Bad {
    /// The bad `(ptr, len)` values for a 64 KiB memory (`len` is `None` for an output
    /// location), including ones where a naive `ptr + len` wraps around to a small in-bounds
    /// value.
    fn values(self, mem: u32) -> Vec<(u32, Option<u32>)> {
        let input = [
            (0xFFFF_FFF0, 0x20), // ptr + len wraps to 0x10
            (u32::MAX, 1),       // wraps to 0
            (u32::MAX, 4),       // wraps to 3
            (mem, 1),            // first byte past the end
            (mem - 1, 2),        // straddles the end
            (mem - 4, 0x10),     // straddles the end
            (0x8000_0000, 0x10), // far out
        ];
        let huge = [
            (1, u32::MAX),              // wraps to 0
            (u32::MAX, u32::MAX),       // wraps to 0xFFFF_FFFE
            (0, mem + 1),               // one byte too long
            (0x8000_0000, 0x8000_0000), // wraps to exactly 0
        ];
        match self {
            Bad::Input => input.iter().map(|&(p, l)| (p, Some(l))).collect(),
            Bad::Buffer => input
                .iter()
                .chain(&huge)
                .map(|&(p, l)| (p, Some(l)))
                .collect(),
            // Straddling the end, at the end, and running past 2^32.
            Bad::Out2 => [mem - 1, mem, u32::MAX - 1, u32::MAX]
                .map(|p| (p, None))
                .to_vec(),
            Bad::Out4 => [mem - 3, mem - 1, mem, u32::MAX - 3, u32::MAX - 2, u32::MAX]
                .map(|p| (p, None))
                .to_vec(),
        }
    }
}

/// Every pointer argument of every function that takes one: (function, argument, index of
/// the pointer among the raw arguments, what makes it bad). A range's length is the argument
/// after its pointer.
const POINTER_ARGS: [(&str, &str, usize, Bad); 13] = [
    ("req", "url", 0, Bad::Input),
    ("req", "method", 2, Bad::Input),
    ("req", "headers", 4, Bad::Input),
    ("req", "body", 6, Bad::Input),
    ("req", "status_code_ptr", 8, Bad::Out2),
    ("req", "handle_ptr", 9, Bad::Out4),
    ("header_get", "name", 1, Bad::Input),
    ("header_get", "buf", 3, Bad::Buffer),
    ("header_get", "written_ptr", 5, Bad::Out4),
    ("headers_get_all", "buf", 1, Bad::Buffer),
    ("headers_get_all", "written_ptr", 3, Bad::Out4),
    ("body_read", "buf", 1, Bad::Buffer),
    ("body_read", "written_ptr", 3, Bad::Out4),
];

// abi.md "Memory contract": every (ptr, len) and every output location (status_code_ptr: 2
// bytes, handle_ptr and written_ptr: 4 bytes) is bounds-checked with overflow-safe arithmetic,
// and a bad one returns memory_access_error (3) instead of trapping. req checks its output
// locations before sending, so a guest cannot make the host send a request whose response it
// cannot receive: a bad req sends nothing and writes no output. The handle survives the abuse.
#[test]
fn pointer_arguments_out_of_bounds_are_memory_access_error() {
    // req aims at `untouched`; the other functions read the response `served` sent.
    let untouched = TestServer::scripted(vec![]);
    let served = TestServer::scripted(vec![Reply::raw(RESPONSE)]);
    let mut p = Proxy::new(ctx_allowing([untouched.origin(), served.origin()]));
    let (_, h) = p.get(&served.url("/"));
    let mem = p.mem_size();
    let url = untouched.url("/x");
    for (func, arg, idx, bad) in POINTER_ARGS {
        for (ptr, len) in bad.values(mem) {
            let mut args = match func {
                "req" => p
                    .prepare_req(url.as_bytes(), b"POST", b"x-a: b\n", b"body")
                    .0
                    .to_vec(),
                "header_get" => {
                    p.inst.write_mem(NAME_PTR, b"x-multi");
                    vec![i(h), i(NAME_PTR), 7, i(BUF_PTR), 64, i(WRITTEN_PTR)]
                }
                "headers_get_all" => vec![i(h), i(BUF_PTR), 256, i(WRITTEN_PTR)],
                "body_read" => vec![i(h), i(BUF_PTR), 64, i(WRITTEN_PTR)],
                _ => unreachable!("{func}"),
            };
            args[idx] = i(ptr);
            let what = match len {
                Some(len) => {
                    args[idx + 1] = i(len);
                    format!("{func} {arg}=({ptr:#x}, {len:#x})")
                }
                None => format!("{func} {arg}={ptr:#x}"),
            };
            if func == "req" {
                let c = p.req_raw(ReqArgs(args.try_into().unwrap()));
                assert_code(c, E::MemoryAccessError, &what);
                p.assert_outputs_untouched(&what);
            } else {
                let c = p.inst.call(func, &args);
                assert_code(c, E::MemoryAccessError, &what);
            }
        }
    }
    untouched.assert_untouched();
    let out = p.header_get(h, b"x-multi", 64);
    assert_eq!((out.code, out.data), (0, b"a, b".to_vec()));
    assert_eq!(p.headers_get_all(h, 256).code, 0);
    assert_eq!(p.read_body(h), Ok(b"hello".to_vec()));
}

// abi.md "Memory contract": ranges are checked before anything is consumed, so a body_read
// that failed with memory_access_error lost no body bytes.
#[test]
fn body_read_memory_error_consumes_no_body_bytes() {
    let (server, mut p) = serving(1);
    let (_, h) = p.get(&server.url("/"));
    let mem = p.mem_size();
    assert_code(
        p.inst
            .call("body_read", &[i(h), i(mem - 2), 64, i(WRITTEN_PTR)]),
        E::MemoryAccessError,
        "body_read straddling the end",
    );
    assert_code(
        p.inst
            .call("body_read", &[i(h), i(BUF_PTR), 64, i(u32::MAX)]),
        E::MemoryAccessError,
        "body_read written_ptr out of bounds",
    );
    assert_eq!(p.read_body(h), Ok(b"hello".to_vec()));
}

// abi.md "Memory contract": a module that exports no memory named "memory" gets
// memory_not_found (2) from every function that touches guest memory, and no trap.
#[test]
fn no_exported_memory_is_memory_not_found() {
    let server = TestServer::scripted(vec![]);
    let mut inst = run_wat(NO_MEMORY_WAT, ctx_allowing([server.origin()]));
    for (f, args) in [
        ("req", vec![0, 16, 16, 3, 0, 0, 0, 0, 32, 40]),
        ("header_get", vec![1, 0, 4, 16, 16, 32]),
        ("headers_get_all", vec![1, 0, 16, 32]),
        ("body_read", vec![1, 0, 16, 32]),
    ] {
        assert_code(inst.call(f, &args), E::MemoryNotFound, f);
    }
    // abi.md Memory contract rule 4: close takes no pointer and never returns 2.
    assert_code(
        inst.call("close", &[1]),
        E::InvalidHandle,
        "close without memory",
    );
    server.assert_untouched();
}

// abi.md "Memory contract" rule 4: an export named "memory" that is not a linear memory is
// memory_not_found (2) too.
#[test]
fn memory_export_that_is_not_a_memory_is_memory_not_found() {
    let wat = r#"(module
      (import "wasi_experimental_http" "req"
        (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
      (import "wasi_experimental_http" "body_read"
        (func $body_read (param i32 i32 i32 i32) (result i32)))
      (memory 1)
      (func (export "memory") (result i32) (i32.const 0))
      (func (export "req") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
        (call $req (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
                   (local.get 5) (local.get 6) (local.get 7) (local.get 8) (local.get 9)))
      (func (export "body_read") (param i32 i32 i32 i32) (result i32)
        (call $body_read (local.get 0) (local.get 1) (local.get 2) (local.get 3))))"#;
    let server = TestServer::scripted(vec![]);
    let mut inst = run_wat(wat, ctx_allowing([server.origin()]));
    assert_code(
        inst.call("req", &[0, 16, 16, 3, 0, 0, 0, 0, 32, 40]),
        E::MemoryNotFound,
        "req",
    );
    assert_code(
        inst.call("body_read", &[1, 0, 16, 32]),
        E::MemoryNotFound,
        "body_read",
    );
    server.assert_untouched();
}

// abi.md "Memory contract" rule 1: a zero-length range is valid for any ptr <= memory size
// (nothing is read) and invalid beyond it.
#[test]
fn zero_length_ranges_are_valid_up_to_memory_size() {
    let (server, mut p) = serving(2);
    let mem = p.mem_size();
    let url = server.url("/zero");
    // Empty header block and body at the very end of memory: fine.
    let mut args = p.prepare_req(url.as_bytes(), b"GET", b"", b"");
    args.0[4] = i(mem);
    args.0[6] = i(mem);
    assert_eq!(p.req_raw(args), 0, "zero-length ranges at memory size");
    let h = p.inst.read_u32(HANDLE_PTR);
    // One past the end: memory_access_error, nothing sent.
    for idx in [4, 6] {
        let mut args = p.prepare_req(url.as_bytes(), b"GET", b"", b"");
        args.0[idx] = i(mem + 1);
        assert_code(
            p.req_raw(args),
            E::MemoryAccessError,
            &format!("arg {idx} = mem + 1, len 0"),
        );
    }
    assert_eq!(server.wait_requests(1).len(), 1);
    // header_get with an empty buffer at the end of memory reports the needed length.
    p.inst.write_mem(NAME_PTR, b"x-multi");
    let c = p.inst.call(
        "header_get",
        &[i(h), i(NAME_PTR), 7, i(mem), 0, i(WRITTEN_PTR)],
    );
    assert_code(c, E::BufferTooSmall, "header_get into (mem, 0)");
    assert_eq!(p.inst.read_u32(WRITTEN_PTR), 4);
}

// abi.md "Memory contract" rule 7: outputs may overlap; they are written buffer first, then
// status, then handle/written, and the later write wins.
#[test]
fn overlapping_outputs_are_written_in_documented_order() {
    let (server, mut p) = serving(1);
    let mut args = p.prepare_req(server.url("/").as_bytes(), b"GET", b"", b"");
    args.0[8] = i(HANDLE_PTR); // status_code_ptr == handle_ptr
    assert_eq!(p.req_raw(args), 0);
    let h = p.inst.read_u32(HANDLE_PTR);
    assert_eq!(h, 1, "the handle (written last) must win over the status");
    // header_get: written_ptr inside the buffer; the count is written after the bytes.
    p.inst.write_mem(NAME_PTR, b"x-multi");
    let c = p.inst.call(
        "header_get",
        &[i(h), i(NAME_PTR), 7, i(BUF_PTR), 16, i(BUF_PTR + 2)],
    );
    assert_eq!(c, 0);
    assert_eq!(p.inst.read_mem(BUF_PTR, 6), [b'a', b',', 4, 0, 0, 0]);
}

// abi.md "Order of checks": ranges (3) before the handle (1); the handle (1) before argument
// decoding (buf_len 0 -> 4; header name -> 6/9).
#[test]
fn checks_happen_in_documented_order() {
    let (_server, mut p) = untouchable();
    let mem = p.mem_size();
    assert_code(
        p.inst.call("body_read", &[999, i(mem), 4, i(WRITTEN_PTR)]),
        E::MemoryAccessError,
        "bad range and unknown handle",
    );
    assert_code(
        p.inst
            .call("body_read", &[999, i(BUF_PTR), 0, i(WRITTEN_PTR)]),
        E::InvalidHandle,
        "unknown handle and buf_len 0",
    );
    assert_code(
        p.header_get(999, b"bad name", 8).code,
        E::InvalidHandle,
        "unknown handle, bad name",
    );
    // req: URL before method before headers before policy.
    let bad_url = "ftp://127.0.0.1/";
    assert_code(
        p.req(bad_url, "", "x", b"").unwrap_err(),
        E::InvalidUrl,
        "bad url and method",
    );
    assert_code(
        p.req("http://evil.example/", "", "x", b"").unwrap_err(),
        E::InvalidMethod,
        "bad method and bad header and not allowed",
    );
    assert_code(
        p.req("http://evil.example/", "GET", "x", b"").unwrap_err(),
        E::InvalidEncoding,
        "bad header and not allowed",
    );
}

// abi.md "Handles": a limit of 0 refuses every request, before sending.
#[test]
fn max_concurrent_requests_zero_refuses_everything() {
    let server = TestServer::scripted(vec![]);
    let ctx = e2e::ctx_builder([server.origin()])
        .max_concurrent_requests(0)
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    assert_code(
        p.req(&server.url("/"), "GET", "", b"").unwrap_err(),
        E::TooManySessions,
        "limit 0",
    );
    server.assert_untouched();
}

/// A call of one function on a handle.
type HandleCall = fn(&mut Proxy, u32) -> i32;

/// Every function that takes a handle, called with a valid buffer and a valid name.
const HANDLE_CALLS: [(&str, HandleCall); 4] = [
    ("close", |p, h| p.close(h)),
    ("header_get", |p, h| p.header_get(h, b"x-multi", 64).code),
    ("headers_get_all", |p, h| p.headers_get_all(h, 64).code),
    ("body_read", |p, h| p.body_read(h, 64).code),
];

// abi.md "Handles": unknown handles and closed handles are invalid_handle (1) everywhere;
// handle 0 is never issued.
#[test]
fn unknown_and_closed_handles_are_invalid_handle() {
    let (server, mut p) = serving(1);
    for h in [0u32, 2, 7, 12345, u32::MAX] {
        for (f, call) in HANDLE_CALLS {
            assert_code(call(&mut p, h), E::InvalidHandle, &format!("{f}({h})"));
        }
    }
    let (_, h) = p.get(&server.url("/"));
    assert_eq!(p.close(h), 0, "close of an open handle");
    // close first: the second close is invalid too.
    for (f, call) in HANDLE_CALLS {
        assert_code(
            call(&mut p, h),
            E::InvalidHandle,
            &format!("{f}({h}) after close"),
        );
    }
}

// abi.md "Handles": per store, start at 1, never reused within a store.
#[test]
fn handles_start_at_one_and_are_never_reused() {
    let (server, mut p) = serving(3);
    // A failed req takes no number.
    assert!(
        p.req("http://not-allowed.example/", "GET", "", b"")
            .is_err()
    );
    let (_, h1) = p.get(&server.url("/"));
    assert_eq!(h1, 1);
    assert_eq!(p.close(h1), 0);
    let (_, h2) = p.get(&server.url("/"));
    assert_ne!(h2, h1, "a closed handle number was reused");
    let (_, h3) = p.get(&server.url("/"));
    assert!(h3 != h1 && h3 != h2);
}

// abi.md "req" ERRORS / RFC 9110 9.1: the method must be a non-empty token of at most 64
// bytes and not CONNECT or TRACE (RFC 9110 9.3.8: it echoes injected credentials), else
// invalid_method (8); nothing is sent.
#[test]
fn bad_methods_are_invalid_method_and_send_nothing() {
    let (server, mut p) = untouchable();
    let url = server.url("/");
    let long = "A".repeat(65);
    for m in [
        "", "GE T", "CONNECT", "connect", "Connect", "TRACE", "trace", "Trace", "GET\r\n", "GET\0",
        "(GET)", "G\"T", "GE/T", " GET", "GET ", "G\tT", &long,
    ] {
        assert_code(
            p.req(&url, m, "", b"").unwrap_err(),
            E::InvalidMethod,
            &format!("method {m:?}"),
        );
    }
    server.assert_untouched();
}

// abi.md "req": a 64-byte token method is valid (the limit is inclusive) and sent verbatim.
#[test]
fn method_of_64_token_bytes_is_sent_verbatim() {
    let (server, mut p) = serving(1);
    let m = "X-Custom.Method~!#$%&'*+^_`|".to_string() + &"M".repeat(64 - 28);
    assert_eq!(m.len(), 64);
    p.req(&server.url("/m"), &m, "", b"").unwrap();
    let r = server.wait_requests(1);
    assert!(
        r[0].head().starts_with(&format!("{m} /m HTTP/1.1\r\n")),
        "{}",
        r[0].head()
    );
}

// abi.md "Header blocks": a value with CR, NUL or another CTL, a name that is not a token or
// has whitespace before ':', or a line without ':' is invalid_encoding (9); this is what stops
// request smuggling through header values. Nothing is sent.
#[test]
fn ctl_bytes_and_bad_names_in_header_block_are_invalid_encoding_and_send_nothing() {
    let (server, mut p) = untouchable();
    let url = server.url("/");
    let blocks: &[&[u8]] = &[
        b"x-a: b\rc\n",
        b"x-a: b\r\n",
        b"x-a: b\r\nGET /evil HTTP/1.1\n",
        b"x-a: b\0c\n",
        b"x-a: \x01\n",
        b"x-a: b\x1bc\n",
        b"x-a: b\x7fc\n",
        b"x\ra: b\n",
        b"x\0a: b\n",
        b"x a: b\n",
        b"x-a : b\n",
        b" x-a: b\n",
        b"x-a\t: b\n",
        b": no-name\n",
        b"no-colon\n",
        b"x(a): b\n",
        b"x-a: b\n\r\nGET /evil HTTP/1.1\n",
    ];
    for block in blocks {
        assert_code(
            p.req_bytes(url.as_bytes(), b"GET", block, b"").unwrap_err(),
            E::InvalidEncoding,
            &format!("header block {:?}", String::from_utf8_lossy(block)),
        );
    }
    server.assert_untouched();
}

// abi.md "Request URLs": CR, LF, NUL, space, HTAB and non-ASCII in the URL are invalid_url (10);
// nothing is sent.
#[test]
fn ctl_and_space_in_url_are_invalid_url_and_send_nothing() {
    let (server, mut p) = untouchable();
    let o = server.origin();
    let urls = [
        format!("{o}/a\r\nHost: evil.example"),
        format!("{o}/a\nx"),
        format!("{o}/a\rx"),
        format!("{o}/a\0"),
        format!("{o}/a b"),
        format!("{o}/a\tb"),
        format!("{o}/caf\u{e9}"),
        format!("{o}/a?q=\u{7f}"),
        format!("http://127.0.0.1\r\n:{}/", server.port()),
        format!("http://127.0.0.1:{}\0/", server.port()),
    ];
    for u in &urls {
        assert_code(
            p.req(u, "GET", "", b"").unwrap_err(),
            E::InvalidUrl,
            &format!("url {u:?}"),
        );
    }
    server.assert_untouched();
}

// abi.md "req" ERRORS: url, method and header block must be UTF-8, else utf8_error (6).
#[test]
fn invalid_utf8_inputs_are_utf8_error_and_send_nothing() {
    let (server, mut p) = untouchable();
    let url = server.url("/");
    let mut bad_url = url.clone().into_bytes();
    bad_url.extend_from_slice(b"\xff");
    type Case<'a> = (&'a [u8], &'a [u8], &'a [u8], &'a str);
    let cases: [Case<'_>; 4] = [
        (&bad_url, b"GET", b"", "url"),
        (url.as_bytes(), b"G\xffT", b"", "method"),
        (url.as_bytes(), b"GET", b"x-a: \xc3\x28\n", "header value"),
        (url.as_bytes(), b"GET", b"x-\xffa: b\n", "header name"),
    ];
    for (u, m, h, what) in cases {
        assert_code(p.req_bytes(u, m, h, b"").unwrap_err(), E::Utf8Error, what);
    }
    server.assert_untouched();
}

// abi.md "header_get" ERRORS: a name that is not UTF-8 is utf8_error (6); one that is not a
// token is invalid_encoding (9); an absent one header_not_found (5).
#[test]
fn header_get_name_errors() {
    let (server, mut p) = serving(1);
    let (_, h) = p.get(&server.url("/"));
    assert_code(
        p.header_get(h, b"x-\xff", 64).code,
        E::Utf8Error,
        "non-UTF-8 name",
    );
    for n in [
        &b""[..],
        b"x multi",
        b"x-multi\r\n",
        b"x:multi",
        b"x-multi\0",
    ] {
        assert_code(
            p.header_get(h, n, 64).code,
            E::InvalidEncoding,
            &format!("name {:?}", String::from_utf8_lossy(n)),
        );
    }
    assert_code(
        p.header_get(h, b"x-absent", 64).code,
        E::HeaderNotFound,
        "absent",
    );
}

// abi.md "Header blocks": a non-ASCII UTF-8 value has no CTL and is valid UTF-8, so it is
// sent as is (a positive control for the CTL test above).
#[test]
fn header_value_with_non_ascii_utf8_is_sent_verbatim() {
    let (server, mut p) = serving(1);
    p.req(&server.url("/"), "GET", "x-a: caf\u{e9}\tbar \n", b"")
        .unwrap();
    let r = server.wait_requests(1);
    assert_eq!(
        r[0].header_all("x-a"),
        ["caf\u{e9}\tbar"],
        "{:?}",
        r[0].head()
    );
}

// abi.md "Allow-list": an origin the allow-list does not admit is destination_not_allowed
// (7): another host, another port, another scheme, a deny entry, and no allow-list at all.
#[test]
fn origins_outside_the_allow_list_are_destination_not_allowed_and_send_nothing() {
    let allowed = TestServer::scripted(vec![]);
    let other = TestServer::scripted(vec![]);
    let port = allowed.port();
    let mut p = Proxy::new(ctx_allowing([allowed.origin()]));
    for u in [
        other.url("/"),                       // same host, other port
        format!("https://127.0.0.1:{port}/"), // other scheme
        format!("http://localhost:{port}/"),  // other host name, same address
        format!("http://127.0.0.2:{port}/"),  // other address
        format!("http://[::1]:{port}/"),      // other address family
    ] {
        assert_code(
            p.req(&u, "GET", "", b"").unwrap_err(),
            E::DestinationNotAllowed,
            &u,
        );
    }
    // A deny entry carves an exception out of an allow entry; deny wins.
    let deny = format!("!{}", allowed.origin());
    let mut p = Proxy::new(ctx_allowing([allowed.origin(), deny]));
    assert_code(
        p.req(&allowed.url("/"), "GET", "", b"").unwrap_err(),
        E::DestinationNotAllowed,
        "denied origin",
    );
    // None and an empty list deny everything (the 0.10 constructor's semantics).
    for ctx in [
        HttpCtx::new(None, None).unwrap(),
        HttpCtx::new(Some(vec![]), None).unwrap(),
    ] {
        let mut p = Proxy::new(ctx);
        assert_code(
            p.req(&allowed.url("/"), "GET", "", b"").unwrap_err(),
            E::DestinationNotAllowed,
            "no allow-list",
        );
    }
    allowed.assert_untouched();
    other.assert_untouched();
}

// abi.md "Host-owned request headers": Host (unless equal to the URL authority),
// Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE, Trailer, Expect, Proxy-*, and a
// Content-Length other than body_len are forbidden_header (34): a guest cannot smuggle a
// second request or reach another virtual host. Nothing is sent.
#[test]
fn host_owned_headers_are_forbidden_header_and_send_nothing() {
    let (server, mut p) = untouchable();
    let url = server.url("/");
    let blocks = [
        "Host: evil.example\n".to_string(),
        "host: 127.0.0.1\n".to_string(), // port missing: not the authority the host sends
        format!("Host: 127.0.0.1:{}\nHost: evil.example\n", server.port()),
        "Transfer-Encoding: chunked\n".to_string(),
        "transfer-encoding: identity\n".to_string(),
        "Connection: close\n".to_string(),
        "Connection: keep-alive\n".to_string(),
        "Keep-Alive: timeout=5\n".to_string(),
        "Upgrade: websocket\n".to_string(),
        "TE: trailers\n".to_string(),
        "Trailer: x-a\n".to_string(),
        "Expect: 100-continue\n".to_string(),
        "Proxy-Authorization: Basic Zm9vOmJhcg==\n".to_string(),
        "Proxy-Connection: keep-alive\n".to_string(),
        "Content-Length: 5\n".to_string(), // body is 4 bytes
        "Content-Length: 04x\n".to_string(),
    ];
    for block in &blocks {
        assert_code(
            p.req(&url, "POST", block, b"body").unwrap_err(),
            E::ForbiddenHeader,
            &format!("headers {block:?}"),
        );
    }
    server.assert_untouched();
}

// abi.md "Host-owned request headers": a Host equal (case-insensitively) to the URL authority
// and a Content-Length equal to body_len are accepted and dropped; the host sends exactly one
// of each, its own.
#[test]
fn matching_host_and_content_length_are_accepted_and_not_duplicated() {
    let (server, mut p) = serving(1);
    let headers = format!(
        "HOST: 127.0.0.1:{}\ncontent-length: 4\nx-a: b\n",
        server.port()
    );
    p.req(&server.url("/p"), "POST", &headers, b"body").unwrap();
    let r = &server.wait_requests(1)[0];
    assert_eq!(
        r.header_all("host"),
        [format!("127.0.0.1:{}", server.port())]
    );
    assert_eq!(r.header_all("content-length"), ["4"]);
    assert_eq!(r.header_all("x-a"), ["b"]);
    assert_eq!(r.body, b"body");
}

// abi.md "Host-owned request headers": Content-Length is accepted "only if its value is one or
// more ASCII digits whose number equals body_len" — the number, not its canonical spelling, so
// leading zeros are fine (RFC 9110 §8.6: 1*DIGIT). It is then dropped and the host sends its
// own canonical value once, so "05" for a 5-byte body is accepted, not 34. A value that
// is not all digits, or whose number only matches after wrapping around 2^64, is still 34.
#[test]
fn guest_content_length_is_compared_as_a_number() {
    let accepted: [(&str, &[u8]); 5] = [
        ("Content-Length: 05", b"hello"),
        ("content-length:0005", b"hello"),
        ("Content-Length: 000000000000000000000000000005", b"hello"),
        ("Content-Length: 00", b""),
        ("Content-Length: 0", b""),
    ];
    let (server, mut p) = serving(accepted.len());
    for (block, body) in accepted {
        let (_, h) = p
            .req(&server.url("/cl"), "POST", block, body)
            .unwrap_or_else(|c| panic!("{block:?}: {}", name(c)));
        assert_eq!(p.close(h), 0);
    }
    let requests = server.wait_requests(accepted.len());
    for ((block, body), r) in accepted.iter().zip(&requests) {
        assert_eq!(
            r.header_all("content-length"),
            [body.len().to_string()],
            "{block:?}"
        );
        assert_eq!(r.body, *body, "{block:?}");
    }

    let (server, mut p) = untouchable();
    for block in [
        "Content-Length: 5 5",
        "Content-Length: +5",
        "Content-Length: 5.0",
        "Content-Length: 0x5",
        "Content-Length: ",
        // u64::MAX + 6: wraps to 5 in unchecked 64-bit arithmetic.
        "Content-Length: 18446744073709551621",
    ] {
        assert_code(
            p.req(&server.url("/cl"), "POST", block, b"hello")
                .unwrap_err(),
            E::ForbiddenHeader,
            block,
        );
    }
    server.assert_untouched();
}

// abi.md "header_get": on buffer_too_small (4) the needed length is written to written_ptr
// and the buffer is left alone; with exactly that length the call succeeds.
#[test]
fn header_get_buffer_too_small_reports_needed_length() {
    let (server, mut p) = serving(1);
    let (_, h) = p.get(&server.url("/"));
    let out = p.header_get(h, b"x-multi", 3);
    assert_code(out.code, E::BufferTooSmall, "header_get into 3 bytes");
    assert_eq!(out.written, 4, "needed length of \"a, b\"");
    let out = p.header_get(h, b"X-MULTI", 0);
    assert_code(out.code, E::BufferTooSmall, "header_get into 0 bytes");
    assert_eq!(out.written, 4);
    let out = p.header_get(h, b"X-Multi", 4);
    assert_eq!((out.code, out.data), (0, b"a, b".to_vec()));
}

// abi.md "headers_get_all": same needed-length report; the output is every field line in
// order, name lowercased, `name:value\n`.
#[test]
fn headers_get_all_buffer_too_small_reports_needed_length() {
    let (server, mut p) = serving(1);
    let (_, h) = p.get(&server.url("/"));
    let expected = b"content-length:5\nx-multi:a\nx-multi:b\n";
    let need = expected.len() as u32;
    let out = p.headers_get_all(h, need - 1);
    assert_code(
        out.code,
        E::BufferTooSmall,
        "headers_get_all one byte short",
    );
    assert_eq!(out.written, need);
    let out = p.headers_get_all(h, need);
    assert_eq!(out.code, 0, "{}", name(out.code));
    assert_eq!(
        String::from_utf8_lossy(&out.data),
        String::from_utf8_lossy(expected)
    );
}

// abi.md "body_read": buf_len 0 cannot distinguish "no progress" from the end of the body
// (written 0), so it is buffer_too_small (4); the body is not consumed.
#[test]
fn body_read_with_zero_length_buffer_is_buffer_too_small() {
    let (server, mut p) = serving(1);
    let (_, h) = p.get(&server.url("/"));
    let c = p
        .inst
        .call("body_read", &[i(h), i(BUF_PTR), 0, i(WRITTEN_PTR)]);
    assert_code(c, E::BufferTooSmall, "body_read buf_len 0");
    assert_eq!(p.read_body(h), Ok(b"hello".to_vec()));
    // After the end: 0 forever.
    let out = p.body_read(h, 16);
    assert_eq!((out.code, out.written), (0, 0));
}

// abi.md "Memory contract": outputs are little-endian and need no alignment (STATUS_PTR,
// HANDLE_PTR and WRITTEN_PTR are odd addresses), and exactly 2/4/4 bytes are written.
#[test]
fn outputs_are_little_endian_at_unaligned_addresses() {
    let body = vec![b'z'; 0x0102];
    let response = format!(
        "HTTP/1.1 299 Whatever\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        String::from_utf8_lossy(&body)
    );
    let server = TestServer::scripted(vec![Reply::raw(response)]);
    let mut p = Proxy::new(ctx_allowing([server.origin()]));
    const {
        assert!(
            !STATUS_PTR.is_multiple_of(2)
                && !HANDLE_PTR.is_multiple_of(4)
                && !WRITTEN_PTR.is_multiple_of(4)
        )
    };
    let (status, h) = p.get(&server.url("/"));
    assert_eq!(status, 299);
    assert_eq!(p.inst.read_mem(STATUS_PTR, 2), [0x2B, 0x01]);
    assert_eq!(p.inst.read_mem(HANDLE_PTR, 4), h.to_le_bytes());
    let out = p.body_read(h, BUF_MAX);
    assert_eq!(out.code, 0);
    assert_eq!(p.inst.read_mem(WRITTEN_PTR, 4), out.written.to_le_bytes());
    assert!(
        out.written > 0xFF,
        "a short read would not exercise the second byte"
    );
    assert_eq!(p.inst.read_mem(WRITTEN_PTR - 1, 1), [POISON]);
    assert_eq!(p.inst.read_mem(WRITTEN_PTR + 4, 1), [POISON]);
}

// abi.md "req" ERRORS: with max_concurrent_requests open responses the next req is
// too_many_sessions (13) and is not sent; closing one makes room.
#[test]
fn too_many_sessions_is_checked_before_sending() {
    let server = TestServer::scripted(vec![Reply::raw(RESPONSE); 3]);
    let ctx = e2e::ctx_builder([server.origin()])
        .max_concurrent_requests(2)
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    let (_, a) = p.get(&server.url("/1"));
    let (_, _b) = p.get(&server.url("/2"));
    assert_eq!(p.inst.ctx().open_responses(), 2);
    assert_code(
        p.req(&server.url("/3"), "GET", "", b"").unwrap_err(),
        E::TooManySessions,
        "third open response",
    );
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert_eq!(server.requests().len(), 2, "the refused request was sent");
    assert_eq!(p.close(a), 0);
    p.get(&server.url("/4"));
    assert_eq!(server.wait_requests(3).len(), 3);
}

// abi.md "req" ERRORS 18: a peer that accepts and at once resets (RST: SO_LINGER 0, then
// close) hung up before any response byte: `connection_terminated`, never
// `connection_error` (35), whichever call meets the reset first (the connect's outcome, the
// first write, the read). A race, so many rounds: the classification held one round in three
// before every such path was mapped.
#[cfg(target_os = "linux")]
#[test]
fn a_reset_at_accept_is_connection_terminated_every_time() {
    use std::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    // Detached: it ends with the test binary.
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let linger = Some(std::time::Duration::ZERO);
            rustix::net::sockopt::set_socket_linger(&stream, linger).unwrap();
        }
    });
    let mut p = Proxy::new(ctx_allowing([origin.clone()]));
    let rounds = 1000;
    let mut codes = std::collections::BTreeMap::new();
    for _ in 0..rounds {
        let code = p.req(&format!("{origin}/"), "GET", "", b"").map(|_| 0);
        *codes.entry(code.unwrap_or_else(|c| c)).or_insert(0) += 1;
    }
    assert_eq!(
        codes,
        [(E::ConnectionTerminated.code() as i32, rounds)].into(),
        "codes seen (code: count)"
    );
}
