//! The cases, grouped by the abi.md section they check. Every expectation is written from
//! abi.md, not recorded from a host: a case's `spec` names the rule.
//!
//! Output conventions are those of [`crate::module`]: `status=43690 handle=2863311530` and
//! `written=2863311530` are the 0xAA poison, i.e. "nothing was written"; `~` is the poison of
//! the output buffer.

use crate::module::{Arg, BUF, H, HANDLE, STATUS, Step, WRITTEN, s};
use crate::server::{After, Reply};
use crate::{Case, Exit};

/// The poisoned status and handle of a `req` that wrote nothing.
pub const UNTOUCHED: &str = "status=43690 handle=2863311530";
/// The poisoned written count.
pub const NOT_WRITTEN: &str = "written=2863311530";

fn reply(bytes: impl AsRef<[u8]>, after: After) -> Reply {
    Reply {
        bytes: bytes.as_ref().to_vec(),
        after,
        unprompted: false,
    }
}

/// Bytes, then keep the connection.
fn keep(bytes: impl AsRef<[u8]>) -> Reply {
    reply(bytes, After::KeepOpen)
}

/// Bytes, then close (FIN).
fn close(bytes: impl AsRef<[u8]>) -> Reply {
    reply(bytes, After::Close)
}

/// `200 OK` with `body` (Content-Length), keep-alive.
fn ok(body: &str) -> Reply {
    keep(format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

/// A head with `fields` and an empty Content-Length body.
fn with_fields(fields: &str) -> Reply {
    keep(format!(
        "HTTP/1.1 200 OK\r\n{fields}Content-Length: 0\r\n\r\n"
    ))
}

fn req_fail(code: u32) -> String {
    format!("req {code} {UNTOUCHED}")
}

fn req_ok(status: u16, handle: u32) -> String {
    format!("req 0 status={status} handle={handle}")
}

fn get0() -> Step {
    Step::get("{origin}/")
}

fn h0() -> H {
    H::Of(0)
}

/// `Req` with the given raw pieces, default outputs unless replaced.
fn raw_req(url: Arg, method: Arg, headers: Arg, body: Arg, status: u32, handle: u32) -> Step {
    Step::Req {
        url,
        method,
        headers,
        body,
        status,
        handle,
    }
}

/// A module that exports its memory as `mem` (not `memory`) and makes one call: `_start` traps
/// (`unreachable`, a non-zero exit status) if the call returned `want`, and returns (status 0)
/// otherwise. WASI itself needs an export named `memory` (even for `proc_exit`), so the exit
/// status is the only output; a trap as the pass signal means a CLI that does nothing fails.
fn no_memory_wat(call: &str, want: u32) -> String {
    format!(
        r#"(module
  (import "wasi_experimental_http" "req" (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
  (import "wasi_experimental_http" "header_get" (func $header_get (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "headers_get_all" (func $headers_get_all (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "body_read" (func $body_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "mem") 1)
  (data (i32.const 16) "{{origin}}/GET")
  (func (export "_start") (if (i32.eq {call} (i32.const {want})) (then unreachable))))"#
    )
}

/// A response head of exactly `total` bytes (status line through the final empty line) with
/// `eol` (`"\r\n"` or `"\n"`) line ends, its field lines at most 100 KiB, and no body.
fn head_of_size(total: usize, eol: &str) -> Vec<u8> {
    let status = format!("HTTP/1.1 200 OK{eol}");
    let last = format!("Content-Length: 0{eol}{eol}");
    let mut head = status.into_bytes();
    let mut left = total - head.len() - last.len();
    let mut i = 0;
    while left > 0 {
        // Each filler line: `X-Fill-NN: v...v` + eol, at most 90 KiB.
        let prefix = format!("X-Fill-{i:02}: ");
        let max = 90 * 1024;
        let mut line_len = left.min(max);
        // Never leave a remainder too short to be a line of its own.
        if left - line_len > 0 && left - line_len < prefix.len() + eol.len() + 1 {
            line_len -= prefix.len() + eol.len() + 1;
        }
        let value = line_len - prefix.len() - eol.len();
        head.extend_from_slice(prefix.as_bytes());
        head.extend(std::iter::repeat_n(b'v', value));
        head.extend_from_slice(eol.as_bytes());
        left -= line_len;
        i += 1;
    }
    head.extend_from_slice(last.as_bytes());
    assert_eq!(head.len(), total);
    head
}

/// Every case, in a stable order.
pub fn all() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(memory());
    v.extend(order());
    v.extend(handles());
    v.extend(header_access());
    v.extend(request_wire());
    v.extend(urls());
    v.extend(allow_list());
    v.extend(responses());
    v.extend(framing());
    v.extend(limits());
    v
}

fn memory() -> Vec<Case> {
    let hello = || vec![ok("hello")];
    vec![
        Case::new(
            "memory/url-range-past-end",
            "Memory contract 1, 3; req ERRORS 3",
        )
        .steps([raw_req(
            Arg::Raw(0xFFF0, 0x20),
            s("GET"),
            s(""),
            s(""),
            STATUS,
            HANDLE,
        )])
        .expect([req_fail(3)])
        .requests(0),
        Case::new(
            "memory/url-range-wraps",
            "Memory contract 1: 64-bit arithmetic",
        )
        .steps([raw_req(
            Arg::Raw(0xFFFF_FFF0, 0x20),
            s("GET"),
            s(""),
            s(""),
            STATUS,
            HANDLE,
        )])
        .expect([req_fail(3)])
        .requests(0),
        Case::new(
            "memory/empty-range-at-memory-end",
            "Memory contract 1: (size, 0) is valid",
        )
        .steps([raw_req(
            s("{origin}/"),
            s("GET"),
            Arg::Raw(0x1_0000, 0),
            Arg::Raw(0x1_0000, 0),
            STATUS,
            HANDLE,
        )])
        .expect([req_ok(200, 1)])
        .requests(1),
        Case::new(
            "memory/empty-range-past-memory-end",
            "Memory contract 1: (size + 1, 0) is not",
        )
        .steps([raw_req(
            s("{origin}/"),
            s("GET"),
            s(""),
            Arg::Raw(0x1_0001, 0),
            STATUS,
            HANDLE,
        )])
        .expect([req_fail(3)])
        .requests(0),
        Case::new(
            "memory/status-location-straddles-end",
            "Memory contract 2; req ERRORS 3",
        )
        .steps([raw_req(
            s("{origin}/"),
            s("GET"),
            s(""),
            s(""),
            0xFFFF,
            HANDLE,
        )])
        .expect([req_fail(3)])
        .requests(0),
        Case::new(
            "memory/handle-location-wraps",
            "Memory contract 2: p + 4 computed without wrap",
        )
        .steps([raw_req(
            s("{origin}/"),
            s("GET"),
            s(""),
            s(""),
            STATUS,
            0xFFFF_FFFE,
        )])
        .expect([req_fail(3)])
        .requests(0),
        Case::new("memory/header-get-bad-ranges", "header_get ERRORS 3")
            .replies(vec![with_fields("X-Val: abcdef\r\n")])
            .steps([
                get0(),
                Step::HeaderGet {
                    h: h0(),
                    name: Arg::Raw(0xFFFF, 2),
                    buf: BUF,
                    len: 16,
                    written: WRITTEN,
                    show: 6,
                },
                Step::HeaderGet {
                    h: h0(),
                    name: s("X-Val"),
                    buf: BUF,
                    len: 16,
                    written: 0xFFFD,
                    show: 6,
                },
                Step::HeaderGet {
                    h: h0(),
                    name: s("X-Val"),
                    buf: 0xFFF0,
                    len: 0x20,
                    written: WRITTEN,
                    show: 0,
                },
            ])
            .expect([
                req_ok(200, 1),
                format!("header_get 3 {NOT_WRITTEN} buf=~~~~~~"),
                format!("header_get 3 {NOT_WRITTEN} buf=~~~~~~"),
                format!("header_get 3 {NOT_WRITTEN}"),
            ]),
        Case::new(
            "memory/headers-get-all-wrapping-buffer",
            "headers_get_all ERRORS 3",
        )
        .steps([
            get0(),
            Step::HeadersGetAll {
                h: h0(),
                buf: 0xFFFF_FFFF,
                len: 2,
                written: WRITTEN,
                show: 0,
            },
        ])
        .expect([req_ok(200, 1), format!("headers_get_all 3 {NOT_WRITTEN}")]),
        Case::new(
            "memory/body-read-bad-written-loses-no-data",
            "body_read DESCRIPTION: written_ptr validated before any byte is taken",
        )
        .replies(hello())
        .steps([
            get0(),
            Step::BodyRead {
                h: h0(),
                buf: BUF,
                len: 16,
                written: 0x1_0000,
                show: 5,
            },
            Step::read_all(h0()),
        ])
        .expect([
            req_ok(200, 1),
            format!("body_read 3 {NOT_WRITTEN} buf=~~~~~"),
            "read_all 0 bytes=5 text=hello".into(),
        ]),
        Case::new(
            "memory/needed-length-report",
            "Memory contract 5; header_get OUTPUTS",
        )
        .replies(vec![with_fields("X-Val: abcdef\r\n")])
        .steps([
            get0(),
            Step::header(h0(), "X-Val", 0, 6),
            Step::header(h0(), "X-Val", 5, 6),
            Step::header(h0(), "X-Val", 6, 6),
        ])
        .expect([
            req_ok(200, 1),
            "header_get 4 written=6 buf=~~~~~~".into(),
            "header_get 4 written=6 buf=~~~~~~".into(),
            "header_get 0 written=6 buf=abcdef".to_string(),
        ]),
        Case::new(
            "memory/headers-get-all-needed-length",
            "headers_get_all OUTPUTS",
        )
        .replies(vec![keep(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A: 1\r\n\r\n",
        )])
        .steps([
            get0(),
            Step::headers(h0(), 22, 23),
            Step::headers(h0(), 23, 23),
        ])
        .expect([
            req_ok(200, 1),
            format!("headers_get_all 4 written=23 buf={}", "~".repeat(23)),
            "headers_get_all 0 written=23 buf=content-length:0\\x0ax-a:1\\x0a".into(),
        ]),
        Case::new(
            "memory/overlap-later-write-wins",
            "Memory contract 7: buffer bytes, then written_ptr",
        )
        .replies(vec![with_fields("X-Val: abcdef\r\n")])
        .steps([
            get0(),
            Step::HeaderGet {
                h: h0(),
                name: s("X-Val"),
                buf: WRITTEN - 2,
                len: 6,
                written: WRITTEN,
                show: 0,
            },
            Step::Dump(WRITTEN - 2, 6),
        ])
        .expect([
            req_ok(200, 1),
            "header_get 0 written=6".into(),
            "mem 0x223: ab\\x06\\x00\\x00\\x00".into(),
        ]),
        Case::new(
            "memory/inputs-read-before-outputs",
            "Memory contract 6, 7: inputs read before any output",
        )
        .steps([raw_req(
            Arg::At(STATUS, b"{origin}/overlapping-url".to_vec()),
            s("GET"),
            s(""),
            s(""),
            STATUS,
            HANDLE,
        )])
        .expect([req_ok(200, 1)])
        .head(
            0,
            "GET /overlapping-url HTTP/1.1\r\nHost: {authority}\r\n\r\n",
        ),
        Case::new(
            "memory/offset-zero-is-an-address",
            "Conventions: offset 0 is an ordinary address",
        )
        .replies(vec![with_fields("X-Val: abcdef\r\n")])
        .steps([
            get0(),
            Step::HeaderGet {
                h: h0(),
                name: s("X-Val"),
                buf: BUF,
                len: 16,
                written: 0,
                show: 6,
            },
            Step::Dump(0, 4),
        ])
        .expect([
            req_ok(200, 1),
            format!("header_get 0 {NOT_WRITTEN} buf=abcdef"),
            "mem 0x0: \\x06\\x00\\x00\\x00".into(),
        ]),
        {
            let mut c = Case::new(
                "memory/no-memory-export-req",
                "Memory contract 4: memory_not_found",
            )
            .requests(0);
            c.wat = Some(no_memory_wat(
                "(call $req (i32.const 16) (i32.const 0) (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 8))",
                2,
            ));
            c.exit = Exit::Failure;
            c
        },
        {
            let mut c = Case::new(
                "memory/no-memory-export-before-handle",
                "Order of checks 1 before 4",
            );
            c.wat = Some(no_memory_wat(
                "(call $header_get (i32.const 77) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0))",
                2,
            ));
            c.exit = Exit::Failure;
            c
        },
        {
            let mut c = Case::new(
                "memory/no-memory-export-close",
                "Memory contract 4: close never returns 2",
            );
            c.wat = Some(no_memory_wat("(call $close (i32.const 1))", 1));
            c.exit = Exit::Failure;
            c
        },
        {
            let mut c = Case::new("memory/no-memory-export-body-read", "Memory contract 4");
            c.wat = Some(no_memory_wat(
                "(call $body_read (i32.const 1) (i32.const 0) (i32.const 8) (i32.const 0))",
                2,
            ));
            c.exit = Exit::Failure;
            c
        },
    ]
}

fn order() -> Vec<Case> {
    let long_bad_url = {
        let mut u = b"http://127.0.0.1/".to_vec();
        u.resize(8193, 0xFF);
        u
    };
    vec![
        Case::new(
            "order/bad-output-before-bad-url",
            "Order of checks 2 before 5",
        )
        .steps([raw_req(
            s("not a url"),
            s("GET"),
            s(""),
            s(""),
            STATUS,
            0x1_0000,
        )])
        .expect([req_fail(3)])
        .requests(0),
        Case::new("order/range-before-handle", "Order of checks 2 before 4")
            .steps([Step::HeaderGet {
                h: H::Raw(999),
                name: Arg::Raw(0x1_0000, 1),
                buf: BUF,
                len: 4,
                written: WRITTEN,
                show: 0,
            }])
            .expect([format!("header_get 3 {NOT_WRITTEN}")]),
        Case::new("order/handle-before-name", "Order of checks 4 before 5")
            .steps([Step::header(H::Raw(999), "bad name", 4, 0)])
            .expect([format!("header_get 1 {NOT_WRITTEN}")]),
        Case::new(
            "order/url-before-method",
            "Order of checks 5: arguments in parameter order",
        )
        .steps([Step::req("nope", ""), Step::req("{origin}/", "")])
        .expect([req_fail(10), req_fail(8)])
        .requests(0),
        Case::new(
            "order/url-length-before-utf8",
            "Order of checks 5: URL (10, 6, 10); Request URLs 1",
        )
        .steps([
            raw_req(
                Arg::Bytes(long_bad_url),
                s("GET"),
                s(""),
                s(""),
                STATUS,
                HANDLE,
            ),
            raw_req(s(b"http://\xff/"), s("GET"), s(""), s(""), STATUS, HANDLE),
            raw_req(s(b"http://a b/"), s("GET"), s(""), s(""), STATUS, HANDLE),
        ])
        .expect([req_fail(10), req_fail(6), req_fail(10)])
        .requests(0),
        Case::new(
            "order/method-before-headers",
            "Order of checks 5: method (8, 6, 8), then header block",
        )
        .steps([
            Step::req_with("{origin}/", "GE T", "bad\n", ""),
            raw_req(
                s("{origin}/"),
                s(b"G\xffT"),
                s("bad\n"),
                s(""),
                STATUS,
                HANDLE,
            ),
            Step::req_with("{origin}/", "GET", "bad\n", ""),
        ])
        .expect([req_fail(8), req_fail(6), req_fail(9)])
        .requests(0),
        Case::new("order/first-bad-header-line-decides", "Header blocks 6")
            .steps([
                Step::req_with("{origin}/", "GET", "Connection: close\nbad line\n", ""),
                Step::req_with("{origin}/", "GET", "bad line\nConnection: close\n", ""),
            ])
            .expect([req_fail(34), req_fail(9)])
            .requests(0),
        {
            let mut c = Case::new(
                "order/header-block-size-first",
                "Header blocks 4: the size is checked first (31)",
            )
            .steps([raw_req(
                s("{origin}/"),
                s("GET"),
                Arg::Zeros(0x1_0000, 64 * 1024 + 1),
                s(""),
                STATUS,
                HANDLE,
            )])
            .expect([req_fail(31)])
            .requests(0);
            c.pages = 3;
            c
        },
        {
            let mut c = Case::new(
                "order/request-body-limit",
                "req ERRORS 30: body_len over 16 MiB",
            )
            .steps([
                raw_req(
                    s("{origin}/"),
                    s("POST"),
                    s(""),
                    Arg::Zeros(0x2_0000, 16 * 1024 * 1024 + 1),
                    STATUS,
                    HANDLE,
                ),
                raw_req(
                    s("{origin}/"),
                    s("POST"),
                    s("bad\n"),
                    Arg::Zeros(0x2_0000, 16 * 1024 * 1024 + 1),
                    STATUS,
                    HANDLE,
                ),
            ])
            .expect([req_fail(30), req_fail(9)])
            .requests(0);
            c.pages = 260;
            c
        },
        Case::new(
            "order/decoding-before-allow-list",
            "Order of checks 5 before 6",
        )
        .steps([
            Step::req_with("http://192.0.2.1/", "GET", "bad\n", ""),
            Step::get("http://192.0.2.1/"),
        ])
        .expect([req_fail(9), req_fail(7)])
        .requests(0),
    ]
}

fn handles() -> Vec<Case> {
    let mut limit = Case::new(
        "handles/concurrency-limit",
        "Handles: max_concurrent_requests 16; Order of checks 6",
    )
    .replies(vec![ok("x")]);
    for i in 1..=16 {
        limit = limit.steps([get0()]).expect([req_ok(200, i)]);
    }
    limit = limit
        .steps([
            Step::get("http://192.0.2.1/"),
            get0(),
            Step::Close(H::Of(3)),
            get0(),
        ])
        .expect([req_fail(7), req_fail(13), "close 0".into(), req_ok(200, 17)]);
    vec![
        Case::new(
            "handles/numbers-increase-and-are-not-reused",
            "Handles; close",
        )
        .replies(vec![ok("hello")])
        .steps([
            get0(),
            Step::Close(h0()),
            Step::Close(h0()),
            get0(),
            Step::read(H::Raw(1), 8, 0),
            Step::header(H::Raw(1), "Content-Length", 8, 0),
            Step::headers(H::Raw(1), 64, 0),
            Step::read_all(H::Raw(2)),
        ])
        .expect([
            req_ok(200, 1),
            "close 0".to_string(),
            "close 1".into(),
            req_ok(200, 2),
            format!("body_read 1 {NOT_WRITTEN}"),
            format!("header_get 1 {NOT_WRITTEN}"),
            format!("headers_get_all 1 {NOT_WRITTEN}"),
            "read_all 0 bytes=5 text=hello".into(),
        ]),
        Case::new(
            "handles/failed-req-takes-no-number",
            "Handles: a failed req creates no handle",
        )
        .steps([
            Step::get("http://192.0.2.1/"),
            Step::req("{origin}/", "CONNECT"),
            get0(),
        ])
        .expect([req_fail(7), req_fail(8), req_ok(200, 1)]),
        Case::new("handles/close-never-issued", "close ERRORS 1")
            .steps([
                Step::Close(H::Raw(0)),
                Step::Close(H::Raw(1)),
                Step::Close(H::Raw(u32::MAX)),
            ])
            .expect(["close 1", "close 1", "close 1"]),
        limit,
        Case::new(
            "handles/body-states",
            "body_read: Reading, Ended; buf_len 0 is 4 in any state",
        )
        .replies(vec![ok("abc")])
        .steps([
            get0(),
            Step::read(h0(), 0, 3),
            Step::read(h0(), 16, 3),
            Step::read(h0(), 16, 3),
            Step::read(h0(), 16, 3),
            Step::read(h0(), 0, 3),
            Step::header(h0(), "content-length", 8, 1),
        ])
        .expect([
            req_ok(200, 1),
            format!("body_read 4 {NOT_WRITTEN} buf=~~~"),
            "body_read 0 written=3 buf=abc".into(),
            "body_read 0 written=0 buf=~~~".into(),
            "body_read 0 written=0 buf=~~~".into(),
            format!("body_read 4 {NOT_WRITTEN} buf=~~~"),
            "header_get 0 written=1 buf=3".into(),
        ]),
        Case::new(
            "handles/sequential-requests-reuse-optional",
            "Connection reuse: pooling is invisible to the guest",
        )
        .replies(vec![ok("one"), ok("two")])
        .steps([
            get0(),
            Step::read_all(h0()),
            Step::Close(h0()),
            get0(),
            Step::read_all(H::Of(1)),
        ])
        .expect([
            req_ok(200, 1),
            "read_all 0 bytes=3 text=one".to_string(),
            "close 0".into(),
            req_ok(200, 2),
            "read_all 0 bytes=3 text=two".into(),
        ])
        .requests(2),
    ]
}

fn header_access() -> Vec<Case> {
    vec![
        Case::new("header_get/joins-repeated-fields", "header_get DESCRIPTION: joined with \", \" in order")
            .replies(vec![with_fields("X-R: a\r\nx-r:  b \r\nX-Other: z\r\nX-R:\tc\r\n")])
            .steps([get0(), Step::header(h0(), "x-R", 64, 7)])
            .expect([req_ok(200, 1), "header_get 0 written=7 buf=a, b, c".into()]),
        Case::new("header_get/empty-value-is-found", "header_get DESCRIPTION: an empty value is success with count 0")
            .replies(vec![with_fields("X-Empty:\r\n")])
            .steps([get0(), Step::header(h0(), "X-Empty", 8, 2)])
            .expect([req_ok(200, 1), "header_get 0 written=0 buf=~~".into()]),
        Case::new("header_get/not-found-and-bad-names", "header_get ERRORS 5, 9, 6")
            .steps([
                get0(),
                Step::header(h0(), "X-Missing", 8, 0),
                Step::header(h0(), "X Val", 8, 0),
                Step::header(h0(), "", 8, 0),
                Step::HeaderGet { h: h0(), name: s(b"X-\xff"), buf: BUF, len: 8, written: WRITTEN, show: 0 },
            ])
            .expect([
                req_ok(200, 1),
                format!("header_get 5 {NOT_WRITTEN}"),
                format!("header_get 9 {NOT_WRITTEN}"),
                format!("header_get 9 {NOT_WRITTEN}"),
                format!("header_get 6 {NOT_WRITTEN}"),
            ]),
        Case::new("headers_get_all/format", "headers_get_all DESCRIPTION: name:value\\n, lowercase, in order")
            .replies(vec![keep("HTTP/1.1 200 OK\r\nX-One:  1 \r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 0\r\n\r\n")])
            .steps([get0(), Step::headers(h0(), 256, 55)])
            .expect([
                req_ok(200, 1),
                "headers_get_all 0 written=55 buf=x-one:1\\x0aset-cookie:a=1\\x0aset-cookie:b=2\\x0acontent-length:0\\x0a".into(),
            ]),
        Case::new("headers_get_all/no-fields", "headers_get_all DESCRIPTION: a head without fields gives 0 bytes")
            .replies(vec![close("HTTP/1.0 200 OK\r\n\r\n")])
            .steps([get0(), Step::headers(h0(), 16, 1), Step::read_all(h0())])
            .expect([req_ok(200, 1), "headers_get_all 0 written=0 buf=~".into(), "read_all 0 bytes=0 text=".into()]),
        Case::new("trailers/never-visible", "Responses, Chunked: trailers are discarded")
            .replies(vec![keep("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n")])
            .steps([get0(), Step::read_all(h0()), Step::header(h0(), "X-T", 8, 0)])
            .expect([req_ok(200, 1), "read_all 0 bytes=3 text=abc".to_string(), format!("header_get 5 {NOT_WRITTEN}")]),
    ]
}

fn request_wire() -> Vec<Case> {
    vec![
        Case::new("sends/exact-get", "What the host sends")
            .steps([Step::get("{origin}/p?q=1")])
            .expect([req_ok(200, 1)])
            .head(0, "GET /p?q=1 HTTP/1.1\r\nHost: {authority}\r\n\r\n"),
        Case::new("sends/guest-lines-in-order-trimmed", "Header blocks 1, 3, 5; What the host sends")
            .steps([Step::req_with("{origin}/", "GET", "X-A:  1 \n\nx-b:2\nX-A:3\nX_Custom:u", "")])
            .expect([req_ok(200, 1)])
            .head(0, "GET / HTTP/1.1\r\nHost: {authority}\r\nX-A: 1\r\nx-b: 2\r\nX-A: 3\r\nX_Custom: u\r\n\r\n"),
        Case::new("sends/accepted-host-and-content-length-are-dropped", "Host-owned request headers: Host, Content-Length")
            .steps([Step::req_with("{origin}/", "POST", "host: 127.0.0.1:{port}\nContent-Length: 003\nContent-Type: text/plain\n", "abc")])
            .expect([req_ok(200, 1)])
            .head(0, "POST / HTTP/1.1\r\nHost: {authority}\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n")
            .body(0, b"abc"),
        Case::new("sends/content-length-rules", "What the host sends: Content-Length")
            .steps([Step::req("{origin}/a", "POST"), Step::req_with("{origin}/b", "GET", "", "xy"), Step::req("{origin}/c", "DELETE")])
            .expect([req_ok(200, 1), req_ok(200, 2), req_ok(200, 3)])
            .head(0, "POST /a HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\n\r\n")
            .head(1, "GET /b HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 2\r\n\r\n")
            .head(2, "DELETE /c HTTP/1.1\r\nHost: {authority}\r\n\r\n"),
        Case::new("sends/method-as-given", "req PARAMETERS: case-sensitive, sent as given")
            .steps([Step::req("{origin}/", "get")])
            .expect([req_ok(200, 1)])
            .head(0, "get / HTTP/1.1\r\nHost: {authority}\r\n\r\n"),
        Case::new("method/invalid", "req ERRORS 8, 6")
            .steps([
                Step::req("{origin}/", "CONNECT"),
                Step::req("{origin}/", "connect"),
                Step::req("{origin}/", &"A".repeat(65)),
                Step::req("{origin}/", "GE(T"),
                raw_req(s("{origin}/"), s(b"\xff"), s(""), s(""), STATUS, HANDLE),
                Step::req("{origin}/", "TRACE"),
                Step::req("{origin}/", "trace"),
                Step::req("{origin}/", &"A".repeat(64)),
            ])
            .expect([
                req_fail(8), req_fail(8), req_fail(8), req_fail(8), req_fail(6), req_fail(8),
                req_fail(8), req_ok(200, 1),
            ])
            .requests(1),
        Case::new("headers/host-owned-are-forbidden", "Header blocks: host-owned request headers (34)")
            .steps(
                [
                    "Connection: close", "Transfer-Encoding: chunked", "Keep-Alive: 1", "Upgrade: h2c",
                    "TE: trailers", "Trailer: x", "Expect: 100-continue", "Max-Forwards: 0",
                    "Proxy-Authorization: x",
                    "proxy-x: y", "Content_Length: 0", "Transfer_Encoding: x", "Host: example.com",
                    "Content-Length: 5", "Content-Length: +0",
                ]
                .map(|h| Step::req_with("{origin}/", "GET", h, "")),
            )
            .expect(vec![req_fail(34); 15])
            .requests(0),
        Case::new("headers/malformed-lines", "Header blocks 2, 3, 4")
            .steps([
                Step::req_with("{origin}/", "GET", " X: 1", ""),
                Step::req_with("{origin}/", "GET", "X : 1", ""),
                Step::req_with("{origin}/", "GET", "X", ""),
                Step::req_with("{origin}/", "GET", ": v", ""),
                Step::req_with("{origin}/", "GET", "X: a\x01b", ""),
                Step::req_with("{origin}/", "GET", "X: a\rb", ""),
                Step::req_with("{origin}/", "GET", "X(: 1", ""),
                raw_req(s("{origin}/"), s("GET"), s(b"X: \xff"), s(""), STATUS, HANDLE),
            ])
            .expect([req_fail(9), req_fail(9), req_fail(9), req_fail(9), req_fail(9), req_fail(9), req_fail(9), req_fail(6)])
            .requests(0),
    ]
}

fn urls() -> Vec<Case> {
    let invalid = [
        "ftp://127.0.0.1/",
        "http://u@127.0.0.1:{port}/",
        "http://127.1:{port}/",
        "http://0x7f.0.0.1:{port}/",
        "http://0127.0.0.1:{port}/",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:65536/",
        "http://127.0.0.1:000080/",
        "http://127.0.0.1:8o/",
        "http://[::1%25lo]:{port}/",
        "http://[v1.x]/",
        "http://a..b/",
        "http://.a/",
        "http://a_b-.c:{port}x/",
        "http:/127.0.0.1/",
        "http:///",
        "http://127.0.0.1./.\x7f",
    ];
    vec![
        Case::new("url/invalid", "Request URLs 2-8: invalid_url (10)")
            .steps(invalid.map(Step::get))
            .expect(vec![req_fail(10); invalid.len()])
            .requests(0),
        Case::new(
            "url/trailing-dot-dotted-quad",
            "Request URLs 5, 6: `127.0.0.1.` is the IPv4 literal",
        )
        .steps([Step::get("http://127.0.0.1.:{port}/x")])
        .expect([req_ok(200, 1)])
        .head(0, "GET /x HTTP/1.1\r\nHost: {authority}\r\n\r\n"),
        Case::new(
            "url/leading-zero-port",
            "Request URLs 8; What the host sends: Host carries the port's value",
        )
        .steps([Step::get("http://127.0.0.1:0{port}/")])
        .expect([req_ok(200, 1)])
        .head(0, "GET / HTTP/1.1\r\nHost: {authority}\r\n\r\n"),
        Case::new(
            "url/empty-port-is-the-default",
            "Request URLs 8: `host:` is port 80",
        )
        .steps([Step::get("http://127.0.0.1:/")])
        .expect([req_fail(7)])
        .requests(0),
        Case::new("url/ipv4-mapped-is-ipv4", "Request URLs 7")
            .steps([Step::get("http://[::ffff:127.0.0.1]:{port}/")])
            .expect([req_ok(200, 1)])
            .head(0, "GET / HTTP/1.1\r\nHost: {authority}\r\n\r\n"),
        Case::new("url/case-fragment-empty-path", "Request URLs 3, 5, 9, 10")
            .steps([Step::get("HTTP://127.0.0.1:{port}?q=1#frag")])
            .expect([req_ok(200, 1)])
            .head(0, "GET /?q=1 HTTP/1.1\r\nHost: {authority}\r\n\r\n"),
    ]
}

fn allow_list() -> Vec<Case> {
    vec![
        Case::new("allow/port-must-match", "Allow-list, matches 2")
            .allow(&["http://127.0.0.1:1"])
            .steps([get0()])
            .expect([req_fail(7)])
            .requests(0),
        Case::new("allow/scheme-must-match", "Allow-list, matches 1")
            .allow(&["https://127.0.0.1:{port}"])
            .steps([get0()])
            .expect([req_fail(7)])
            .requests(0),
        Case::new(
            "allow/empty-list-denies",
            "Allow-list: an empty list denies everything",
        )
        .allow(&[])
        .steps([get0()])
        .expect([req_fail(7)])
        .requests(0),
        Case::new("allow/deny-wins", "Allow-list: deny wins")
            .allow(&["insecure:allow-all", "!{origin}"])
            .steps([get0()])
            .expect([req_fail(7)])
            .requests(0),
        Case::new(
            "allow/allow-all-exempts-no-address",
            "Address policy, Exemption: insecure:allow-all exempts nothing",
        )
        .allow(&["insecure:allow-all"])
        .steps([get0()])
        .expect([req_fail(15)])
        .requests(0),
        Case::new(
            "allow/trailing-dot-ip-entry",
            "Allow-list: entries follow the URL rules (trailing dot)",
        )
        .allow(&["http://127.0.0.1.:{port}"])
        .steps([get0()])
        .expect([req_ok(200, 1)]),
        Case::new(
            "allow/localhost-trailing-dot-exemption",
            "Address policy, Exemption (b): `LOCALHOST.` normalizes to `localhost`",
        )
        .allow(&["http://LOCALHOST.:{port}"])
        .steps([Step::get("http://Localhost.:{port}/")])
        .expect([req_ok(200, 1)])
        .head(0, "GET / HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n"),
        {
            let mut c = Case::new(
                "allow/malformed-entry-is-a-configuration-error",
                "Conformance kit: a configuration error exits non-zero, the guest never runs",
            )
            .allow(&["{origin}", "http://*"])
            .steps([Step::get("http://192.0.2.1/")])
            .requests(0);
            c.exit = Exit::Failure;
            c.stderr = vec!["http://*".into()];
            c
        },
    ]
}

fn responses() -> Vec<Case> {
    vec![
        // The guest cannot sleep, so three requests that each end in the default 10 s
        // response-header timeout carry it past the first request's 30 s deadline, with that
        // request's whole body held by the host (it arrived with the head).
        Case::new(
            "timeouts/deadline-passed-with-the-body-held-30s",
            "Timeouts and limits: past the overall deadline (30 s) body_read delivers nothing, held bytes included (23)",
        )
        .replies(vec![ok("hello"), reply("", After::Stall)])
        .steps([
            get0(),
            Step::get("{origin}/stall-1"),
            Step::get("{origin}/stall-2"),
            Step::get("{origin}/stall-3"),
            Step::read(h0(), 8, 0),
            Step::read(h0(), 8, 0),
            Step::Close(h0()),
        ])
        .expect([
            req_ok(200, 1),
            req_fail(21),
            req_fail(21),
            req_fail(21),
            format!("body_read 23 {NOT_WRITTEN}"),
            format!("body_read 23 {NOT_WRITTEN}"),
            "close 0".into(),
        ])
        .requests(4),
        Case::new("network/connection-refused", "req ERRORS 16: the last address tried refused")
            .allow(&["http://127.0.0.1:{closed_port}"])
            .steps([Step::get("http://127.0.0.1:{closed_port}/")])
            .expect([req_fail(16)]),
        Case::new("network/plain-http-to-a-tls-client", "req ERRORS 20: an invalid TLS record")
            .allow(&["https://127.0.0.1:{port}"])
            .replies(vec![Reply {
                unprompted: true,
                // Kept open: closing with the ClientHello unread would send a reset, and a
                // reset during the handshake is 18, not 20.
                ..keep("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            }])
            .steps([Step::get("https://127.0.0.1:{port}/")])
            .expect([req_fail(20)]),
        Case::new("timeouts/response-header-timeout-10s", "Timeouts and limits: response_header 10 s (21), first to expire wins")
            .replies(vec![reply("", After::Stall)])
            .steps([get0()])
            .expect([req_fail(21)])
            .requests(1),
        Case::new("timeouts/idle-timeout-in-body-10s", "Timeouts and limits: idle 10 s (22) while reading the body")
            .replies(vec![reply("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", After::Stall)])
            .steps([get0(), Step::read_all(h0())])
            .expect([req_ok(200, 1), "read_all 22 bytes=5 text=hello".into()]),
        Case::new("network/closed-before-any-response-byte", "req ERRORS 18: a fresh connection is not retried")
            .replies(vec![close("")])
            .steps([get0()])
            .expect([req_fail(18)])
            .requests(1),
        Case::new("response/status-lines", "Responses, Head syntax")
            .replies(vec![
                close("HTTP/1.0 203 Fine\r\nContent-Length: 0\r\n\r\n"),
                close("HTTP/1.1 600 Nope\r\n\r\n"),
                close("HTTP/1.1 101 Switching Protocols\r\n\r\n"),
                close("HTTP/2 200 OK\r\n\r\n"),
                close("HTTP/1.1 20 OK\r\n\r\n"),
                close("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"),
            ])
            .steps([get0(), get0(), get0(), get0(), get0(), get0()])
            .expect([req_ok(203, 1), req_fail(32), req_fail(32), req_fail(32), req_fail(32), req_ok(200, 2)]),
        Case::new("response/status-is-data", "req: 4xx and 5xx are returned, not errors")
            .replies(vec![keep("HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy")])
            .steps([get0(), Step::read_all(h0())])
            .expect([req_ok(503, 1), "read_all 0 bytes=4 text=busy".into()]),
        Case::new("response/interim-responses-skipped", "Interim responses")
            .replies(vec![keep("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")])
            .steps([get0(), Step::header(h0(), "Link", 8, 0), Step::read_all(h0())])
            .expect([req_ok(200, 1), format!("header_get 5 {NOT_WRITTEN}"), "read_all 0 bytes=2 text=ok".into()]),
        Case::new("response/too-many-interim", "Interim responses: a 33rd is 32")
            .replies(vec![close(format!("{}HTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 100 Continue\r\n\r\n".repeat(33)))])
            .steps([get0()])
            .expect([req_fail(32)]),
        Case::new("response/field-syntax", "Responses, Head syntax: obs-fold, space before colon, CTL, bare CR")
            .replies(vec![
                close("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"),
                close("HTTP/1.1 200 OK\r\nX : a\r\n\r\n"),
                close("HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n"),
                close("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"),
                close("HTTP/1.1 200 OK\nX: bare-lf\n\nok"),
            ])
            .steps([get0(), get0(), get0(), get0(), get0(), Step::header(H::Of(4), "X", 16, 7), Step::read_all(H::Of(4))])
            .expect([
                req_fail(32),
                req_fail(32),
                req_fail(32),
                req_fail(32),
                req_ok(200, 1),
                "header_get 0 written=7 buf=bare-lf".to_string(),
                "read_all 0 bytes=2 text=ok".into(),
            ]),
        Case::new("response/redirect-not-followed", "Redirects are never followed")
            .replies(vec![keep("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")])
            .steps([get0(), Step::header(h0(), "Location", 16, 10)])
            .expect([req_ok(302, 1), "header_get 0 written=10 buf=/elsewhere".into()])
            .requests(1),
    ]
}

fn framing() -> Vec<Case> {
    vec![
        Case::new("framing/content-length-lists", "Body length 5: OWS around members, equal values, no empty member")
            .replies(vec![
                close("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello"),
                close("HTTP/1.1 200 OK\r\nContent-Length: 005 ,\t5\r\nContent-Length: 5\r\n\r\nhello"),
                close("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello"),
                close("HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\nhello"),
                close("HTTP/1.1 200 OK\r\nContent-Length: ,5\r\n\r\nhello"),
                close("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nhello"),
            ])
            .steps([get0(), Step::read_all(h0()), get0(), Step::read_all(H::Of(1)), get0(), get0(), get0(), get0()])
            .expect([
                req_ok(200, 1),
                "read_all 0 bytes=5 text=hello".to_string(),
                req_ok(200, 2),
                "read_all 0 bytes=5 text=hello".to_string(),
                req_fail(32),
                req_fail(32),
                req_fail(32),
                req_fail(32),
            ]),
        Case::new("framing/transfer-encoding-lists", "Body length 2-4: empty members ignored, exactly `chunked`")
            .replies(vec![
                close("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
                close("HTTP/1.1 200 OK\r\nTransfer-Encoding: , CHUNKED\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
                close("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
                close("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
                close("HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n"),
                close("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n"),
                close("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ])
            .steps([get0(), Step::read_all(h0()), get0(), Step::read_all(H::Of(1)), get0(), get0(), get0(), get0(), get0()])
            .expect([
                req_ok(200, 1),
                "read_all 0 bytes=2 text=ok".to_string(),
                req_ok(200, 2),
                "read_all 0 bytes=2 text=ok".to_string(),
                req_fail(33),
                req_fail(33),
                req_fail(33),
                req_fail(32),
                req_fail(32),
            ]),
        Case::new("framing/no-body-responses-ignore-framing-fields", "Body length 1: HEAD, 204, 304 are decided before fields are examined")
            .replies(vec![
                keep("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n"),
                keep("HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n"),
                keep("HTTP/1.0 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ])
            .steps([
                Step::req("{origin}/", "HEAD"),
                Step::read(h0(), 8, 0),
                get0(),
                Step::read(H::Of(1), 8, 0),
                get0(),
                Step::read(H::Of(2), 8, 0),
            ])
            .expect([
                req_ok(200, 1),
                "body_read 0 written=0".to_string(),
                req_ok(204, 2),
                "body_read 0 written=0".to_string(),
                req_ok(304, 3),
                "body_read 0 written=0".to_string(),
            ]),
        Case::new("chunked/whitespace-and-extensions", "Chunked: BWS after the size, with or without an extension")
            .replies(vec![
                close("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n3\t;ext=\"v\"\r\nabc\r\n0 ;last\r\n\r\n"),
                close("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n"),
                close("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 5\r\nhello\r\n0\r\n\r\n"),
            ])
            .steps([get0(), Step::read_all(h0()), get0(), Step::read_all(H::Of(1)), get0(), Step::read_all(H::Of(2))])
            .expect([
                req_ok(200, 1),
                "read_all 0 bytes=8 text=helloabc".to_string(),
                req_ok(200, 2),
                "read_all 32 bytes=0 text=".to_string(),
                req_ok(200, 3),
                "read_all 32 bytes=0 text=".to_string(),
            ]),
        Case::new("chunked/bare-lf-line-ends", "Responses, Line endings: a bare LF after chunk data and chunk lines")
            .replies(vec![keep("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n")])
            .steps([get0(), Step::read_all(h0())])
            .expect([req_ok(200, 1), "read_all 0 bytes=5 text=hello".into()]),
        Case::new("chunked/data-not-followed-by-crlf", "Chunked; body_read Failed state: bytes first, then the sticky code")
            .replies(vec![keep("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n")])
            .steps([get0(), Step::read_all(h0()), Step::read(h0(), 8, 0)])
            .expect([req_ok(200, 1), "read_all 32 bytes=5 text=hello".to_string(), format!("body_read 32 {NOT_WRITTEN}")]),
        Case::new("truncation/content-length", "Truncation is an error (24), sticky")
            .replies(vec![close("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")])
            .steps([get0(), Step::read_all(h0()), Step::read(h0(), 8, 0)])
            .expect([req_ok(200, 1), "read_all 24 bytes=5 text=hello".to_string(), format!("body_read 24 {NOT_WRITTEN}")]),
        Case::new("truncation/chunked", "Truncation is an error (24)")
            .replies(vec![close("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")])
            .steps([get0(), Step::read_all(h0())])
            .expect([req_ok(200, 1), "read_all 24 bytes=5 text=hello".into()]),
        Case::new("truncation/head", "req ERRORS 24: the connection ended inside the head")
            .replies(vec![close("HTTP/1.1 200 OK\r\nContent-")])
            .steps([get0()])
            .expect([req_fail(24)]),
        Case::new("close-delimited/fin-is-the-end", "Body length 6")
            .replies(vec![close("HTTP/1.1 200 OK\r\n\r\nabc")])
            .steps([get0(), Step::read_all(h0())])
            .expect([req_ok(200, 1), "read_all 0 bytes=3 text=abc".into()]),
        Case::new("close-delimited/reset-is-incomplete", "Body length 6: only a clean close ends the body; a reset is 24")
            .replies(vec![reply("HTTP/1.1 200 OK\r\n\r\nabc", After::Reset)])
            .steps([get0(), Step::read_all(h0())])
            .expect([req_ok(200, 1), "read_all 24 bytes=3 text=abc".into()]),
        Case::new("framing/bytes-after-the-end-not-delivered", "Truncation is an error: bytes after the framed end are never delivered")
            .replies(vec![close("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")])
            .steps([get0(), Step::read_all(h0())])
            .expect([req_ok(200, 1), "read_all 0 bytes=2 text=ok".into()]),
    ]
}

fn limits() -> Vec<Case> {
    const SECTION: usize = 256 * 1024;
    let stalled_head = {
        // Field lines of 60 KiB each, past the section limit, and no end of head.
        let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..5 {
            h.extend_from_slice(format!("X-{i}: ").as_bytes());
            h.extend(std::iter::repeat_n(b'v', 60 * 1024));
            h.extend_from_slice(b"\r\n");
        }
        h
    };
    let stalled_trailers = {
        let mut h =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n".to_vec();
        for i in 0..5 {
            h.extend_from_slice(format!("X-{i}: ").as_bytes());
            h.extend(std::iter::repeat_n(b'v', 60 * 1024));
            h.extend_from_slice(b"\r\n");
        }
        h
    };
    let chunk_line = |len: usize| {
        let ext = "a".repeat(len - 2);
        format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;{ext}\r\nok\r\n0\r\n\r\n")
    };
    vec![
        Case::new(
            "limits/header-section-counts-every-byte",
            "Timeouts and limits: max_header_section, terminators included",
        )
        .replies(vec![
            close(head_of_size(SECTION, "\r\n")),
            close(head_of_size(SECTION + 1, "\r\n")),
            close(head_of_size(SECTION, "\n")),
            close(head_of_size(SECTION + 1, "\n")),
        ])
        .steps([get0(), get0(), get0(), get0()])
        .expect([req_ok(200, 1), req_fail(26), req_ok(200, 2), req_fail(26)]),
        Case::new(
            "limits/header-section-checked-on-partial-input",
            "Responses: limits checked on partial input (26, not a timeout)",
        )
        .replies(vec![reply(stalled_head, After::Stall)])
        .steps([get0()])
        .expect([req_fail(26)]),
        Case::new(
            "limits/header-line",
            "Timeouts and limits: max_header_line 100 KiB, without terminator",
        )
        .replies(vec![
            close(format!(
                "HTTP/1.1 200 OK\r\nX: {}\r\nContent-Length: 0\r\n\r\n",
                "v".repeat(100 * 1024 - 3)
            )),
            close(format!(
                "HTTP/1.1 200 OK\r\nX: {}\r\nContent-Length: 0\r\n\r\n",
                "v".repeat(100 * 1024 - 2)
            )),
        ])
        .steps([get0(), get0()])
        .expect([req_ok(200, 1), req_fail(25)]),
        Case::new(
            "limits/too-many-fields",
            "Timeouts and limits: max_header_count 100",
        )
        .replies(vec![
            close(format!(
                "HTTP/1.1 200 OK\r\n{}Content-Length: 0\r\n\r\n",
                "X: 1\r\n".repeat(99)
            )),
            close(format!(
                "HTTP/1.1 200 OK\r\n{}Content-Length: 0\r\n\r\n",
                "X: 1\r\n".repeat(100)
            )),
        ])
        .steps([get0(), get0()])
        .expect([req_ok(200, 1), req_fail(27)]),
        Case::new(
            "limits/chunk-line",
            "Chunked: the line without its terminator must fit 4 KiB (28)",
        )
        .replies(vec![close(chunk_line(4096)), close(chunk_line(4097))])
        .steps([
            get0(),
            Step::read_all(h0()),
            get0(),
            Step::read_all(H::Of(1)),
        ])
        .expect([
            req_ok(200, 1),
            "read_all 0 bytes=2 text=ok".to_string(),
            req_ok(200, 2),
            "read_all 28 bytes=0 text=".to_string(),
        ]),
        Case::new(
            "limits/chunk-line-checked-on-partial-input",
            "Chunked: the chunk line limit applies to partial input",
        )
        .replies(vec![reply(
            format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;{}",
                "a".repeat(5000)
            ),
            After::Stall,
        )])
        .steps([get0(), Step::read_all(h0())])
        .expect([req_ok(200, 1), "read_all 28 bytes=0 text=".into()]),
        Case::new(
            "limits/trailer-section-checked-on-partial-input",
            "Chunked: trailer limits as a head's, on partial input",
        )
        .replies(vec![reply(stalled_trailers, After::Stall)])
        .steps([get0(), Step::read_all(h0())])
        .expect([req_ok(200, 1), "read_all 26 bytes=2 text=ok".into()]),
    ]
}
