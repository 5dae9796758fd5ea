//! The guest's header-block encoder against the host's parser (abi.md, "Header blocks").
//!
//! The two are separate code on purpose: the guest crate (`guest/src/header_block.rs`,
//! `HeaderBlock`) is `no_std` wasm and the host crate (`host/src/http1/request.rs`,
//! `encode_request_head`) a native library, and neither may depend on the other. abi.md's
//! grammar is their contract; this test holds them to it. The guest crate compiles natively
//! (its imports are stubs there), so the blocks are encoded here with the real `HeaderBlock` and
//! handed to the real host through the WAT proxy (`tests/wat/proxy.wat`), which calls `req`.
//!
//! Without an allow-list the host checks the header block and then refuses the destination
//! (abi.md, "Order of checks": header block before allow-list), so `destination_not_allowed`
//! (7) means "block accepted" and nothing touches the network. Where the bytes sent matter, a
//! loopback echo server records them.
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use e2e::abi::{Proxy, assert_code, code, name};
use e2e::ctx_allowing;
use e2e::server::TestServer;
use wasi_experimental_http::{Error, HeaderBlock};
use wasi_experimental_http_host::{ErrorCode, HttpCtx};

/// Fields the guest's encoder accepts: every kind of name and value abi.md allows.
const ACCEPTED: &[(&str, &str)] = &[
    ("a", "1"),
    ("Content-Type", "text/plain"),
    ("!#$%&'*+-.^_`|~09azAZ", "every tchar"),
    ("x-empty", ""),
    ("x-spaces", "  padded \t "),
    ("x-tab", "a\tb"),
    ("x-colons", "a:b:c"),
    ("x-utf8", "café ✓"),
    ("x-printable", "!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"),
    ("X-Repeated", "one"),
    ("x-repeated", "two"),
];

/// Fields the guest's encoder refuses with `invalid_encoding`.
const REFUSED: &[(&str, &str)] = &[
    ("", "v"),
    ("a b", "v"),
    (" a", "v"),
    ("a ", "v"),
    ("a\t", "v"),
    ("a:b", "v"),
    ("a\n", "v"),
    ("a\0", "v"),
    ("é", "v"),
    ("a", "v\r"),
    ("a", "v\r\nInjected: yes"),
    ("a", "v\nb:c"),
    ("a", "nul\0"),
    ("a", "\x01"),
    ("a", "del\x7f"),
    ("a", "\x1f"),
];

/// A proxy whose host admits no destination: a request gets as far as the allow-list.
fn offline() -> Proxy {
    Proxy::new(HttpCtx::new(None, None).unwrap())
}

/// The host's verdict on `block`: 7 (accepted, then refused by the empty allow-list) or the
/// code of the first line it rejects.
fn host_code(p: &mut Proxy, block: &[u8]) -> i32 {
    let c = p
        .req_bytes(b"http://127.0.0.1:1/", b"GET", block, b"")
        .expect_err("no destination is allowed");
    assert!(
        c == code(ErrorCode::DestinationNotAllowed)
            || c == code(ErrorCode::InvalidEncoding)
            || c == code(ErrorCode::ForbiddenHeader),
        "{:?}: unexpected {}",
        String::from_utf8_lossy(block),
        name(c)
    );
    c
}

/// The guest's verdict on one field: `Ok(block)` or the error `add` returned.
fn guest_encode(field_name: &str, value: &str) -> Result<Vec<u8>, Error> {
    let mut buf = [0u8; 256];
    let mut block = HeaderBlock::new(&mut buf);
    block.add(field_name, value)?;
    Ok(block.as_bytes().to_vec())
}

/// What a one-line block says, written without the guest's checks.
fn naive_line(field_name: &str, value: &str) -> Vec<u8> {
    format!("{field_name}:{value}\n").into_bytes()
}

// Every field the guest encodes, the host accepts, one at a time and all in one block.
#[test]
fn host_accepts_every_block_the_guest_builds() {
    let mut p = offline();
    let mut buf = [0u8; 1024];
    let mut all = HeaderBlock::new(&mut buf);
    for (n, v) in ACCEPTED {
        let block = guest_encode(n, v).unwrap_or_else(|e| panic!("guest refused {n:?}: {e}"));
        assert_code(
            host_code(&mut p, &block),
            ErrorCode::DestinationNotAllowed,
            &format!("{n:?}: {v:?}"),
        );
        all.add(n, v).unwrap();
    }
    assert_code(
        host_code(&mut p, all.as_bytes()),
        ErrorCode::DestinationNotAllowed,
        "all accepted fields in one block",
    );
}

// Every field the guest refuses is one the host would refuse too, or one whose line the host
// would read as other fields than the ones meant (a `:` in the name, a LF in the value): the
// guest refuses exactly what would not arrive as written.
#[test]
fn guest_refuses_what_the_host_refuses_or_would_misread() {
    let mut p = offline();
    for (n, v) in REFUSED {
        assert_eq!(
            guest_encode(n, v),
            Err(Error::InvalidEncoding),
            "guest accepted {n:?}: {v:?}"
        );
        let host = host_code(&mut p, &naive_line(n, v));
        let misread = n.contains(':') || v.contains('\n');
        if !misread {
            assert_code(host, ErrorCode::InvalidEncoding, &format!("{n:?}: {v:?}"));
        }
    }
}

// Byte by byte, in a name and in a value: the guest accepts a byte exactly when the host does.
// The one byte the host takes in a name line and the guest refuses is `:`, which ends the
// name (checked on the wire below).
#[test]
fn encoder_and_parser_agree_on_every_ascii_byte() {
    let mut p = offline();
    let accepted = code(ErrorCode::DestinationNotAllowed);
    for b in 0u8..=0x7f {
        let c = char::from(b);

        let field_name = format!("a{c}b");
        let guest = guest_encode(&field_name, "v").is_ok();
        let host = host_code(&mut p, &naive_line(&field_name, "v")) == accepted;
        if b == b':' {
            assert!(!guest && host, "`:` in a name");
        } else {
            assert_eq!(guest, host, "byte {b:#04x} in a name");
        }

        let value = format!("x{c}y");
        let guest = guest_encode("a", &value).is_ok();
        let host = host_code(&mut p, &naive_line("a", &value)) == accepted;
        assert_eq!(guest, host, "byte {b:#04x} in a value");
    }
}

// The guest does not know the host-owned fields (abi.md, "Header blocks"): it encodes them, and
// the host refuses them with `forbidden_header`, a policy code, never `invalid_encoding`.
#[test]
fn host_owned_fields_are_policy_not_syntax() {
    let mut p = offline();
    for (n, v) in [
        ("Connection", "close"),
        ("Transfer-Encoding", "chunked"),
        ("Proxy-Authorization", "x"),
        ("Host", "other.example"),
    ] {
        let block = guest_encode(n, v).unwrap();
        assert_code(
            host_code(&mut p, &block),
            ErrorCode::ForbiddenHeader,
            &format!("{n}: {v}"),
        );
    }
}

// On the wire: every field the guest encodes arrives as one field line, `name: value` with the
// value trimmed of SP/HTAB (abi.md, "What the host sends"), in order; the lines the guest
// refuses because the host would misread them do arrive as other fields.
#[test]
fn fields_arrive_as_the_guest_wrote_them() {
    let server = TestServer::echo();
    let mut p = Proxy::new(ctx_allowing([server.origin()]));
    let url = server.url("/h");

    let mut buf = [0u8; 1024];
    let mut block = HeaderBlock::new(&mut buf);
    for (n, v) in ACCEPTED {
        block.add(n, v).unwrap();
    }
    let (status, handle) = p
        .req(
            &url,
            "GET",
            std::str::from_utf8(block.as_bytes()).unwrap(),
            b"",
        )
        .unwrap_or_else(|c| panic!("req failed: {}", name(c)));
    assert_eq!(status, 200);
    assert_eq!(p.close(handle), 0);

    let misread = [("a:b", "v"), ("a", "v\nb:c")];
    for (n, v) in misread {
        let (_, handle) = p
            .req_bytes(url.as_bytes(), b"GET", &naive_line(n, v), b"")
            .unwrap_or_else(|c| panic!("req {n:?}: {v:?} failed: {}", name(c)));
        assert_eq!(p.close(handle), 0);
    }

    let requests = server.wait_requests(1 + misread.len());
    let head = requests[0].head();
    let mut lines = head.split("\r\n").skip(2); // request line, Host
    for (n, v) in ACCEPTED {
        let want = format!("{n}: {}", v.trim_matches([' ', '\t']));
        assert_eq!(lines.next(), Some(want.as_str()), "in\n{head}");
    }
    assert_eq!(lines.next(), Some(""), "nothing else in\n{head}");

    for (r, (n, v)) in requests[1..].iter().zip(misread) {
        let meant = format!("\r\n{n}: {v}\r\n");
        assert!(
            !r.head().contains(&meant),
            "{n:?}: {v:?} arrived as written:\n{}",
            r.head()
        );
        let names: Vec<&str> = r
            .headers
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !n.eq_ignore_ascii_case("host"))
            .collect();
        assert_ne!(names, [n], "{n:?}: {v:?} arrived as one field");
    }
}
