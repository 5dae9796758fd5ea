//! Every size limit, exceeded on purpose, yields its own error code; just under the limit the
//! same shape of message passes (so a limit that rejects everything would fail here too).
//!
//! Limits are lowered in most tests so the offending messages stay small; the field-count and
//! chunk-line tests use the defaults to check those too.

// clippy.toml allows these inside #[test] only; the helpers here need them too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers outside #[test] (servers, fixtures, parsers) panic on failure"
)]

use std::io::Write;
use std::net::{Shutdown, TcpListener};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use e2e::guests::guest_wasm;
use e2e::run::{GuestOutput, run_guest};
use e2e::server::{Reply, TestServer};
use wasi_experimental_http_host::{ErrorCode, HttpCtx, Limits};

fn fetch_wasm() -> PathBuf {
    guest_wasm("tests/guests", "fetch")
}

fn ctx(origin: &str, limits: Limits) -> HttpCtx {
    HttpCtx::builder()
        .allowed_hosts([origin])
        .limits(limits)
        .build()
        .unwrap()
}

/// Small limits, so the tests' messages stay small.
fn small_limits() -> Limits {
    Limits {
        max_header_line: 1024,
        max_header_section: 4096,
        max_header_count: 30,
        max_chunk_line: 256,
        max_response_body: Some(1000),
        max_request_body: 100,
        max_request_headers: 256,
        ..Limits::default()
    }
}

/// One scripted response, fetched with `limits`.
fn fetch_scripted(response: Vec<u8>, limits: Limits) -> GuestOutput {
    let server = TestServer::scripted(vec![Reply::raw_then_close(response)]);
    run_guest(
        &fetch_wasm(),
        ctx(&server.origin(), limits),
        &["GET", &server.url("/limits")],
    )
}

fn head_with(status_line: &str, fields: &[String], body: &str) -> Vec<u8> {
    let mut r = format!("{status_line}\r\n");
    for f in fields {
        r.push_str(f);
        r.push_str("\r\n");
    }
    r.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    r.into_bytes()
}

/// The control for the limit tests below: long lines, many fields, a long chunk line and a
/// body, all under `small_limits`, are accepted.
#[test]
fn messages_under_every_limit_pass() {
    let reason = "R".repeat(500);
    let mut resp = format!(
        "HTTP/1.1 200 {reason}\r\nx-long: {}\r\ntransfer-encoding: chunked\r\n",
        "v".repeat(500)
    );
    for i in 0..20 {
        resp.push_str(&format!("x-f{i}: {i}\r\n"));
    }
    let body = "b".repeat(1000);
    resp.push_str(&format!(
        "\r\n{:x};ext={}\r\n{body}\r\n0\r\n\r\n",
        body.len(),
        "e".repeat(150)
    ));
    let out = fetch_scripted(resp.into_bytes(), small_limits());
    out.assert_body(200, body.as_bytes());
}

/// Long lines real sites send (a big Content-Security-Policy, many large cookies) pass the
/// default limits, and reach the guest whole (`abi.md`, "Timeouts and limits").
#[test]
fn long_real_world_header_lines_pass_the_default_limits() {
    let csp = format!(
        "default-src 'self'; script-src{}",
        " 'sha256-x'".repeat(4000)
    );
    let mut fields = vec![format!("content-security-policy: {csp}")];
    fields.extend((0..10).map(|i| format!("set-cookie: c{i}={}", "k".repeat(9000))));
    let server = TestServer::scripted(vec![Reply::raw_then_close(head_with(
        "HTTP/1.1 200 OK",
        &fields,
        "ok",
    ))]);
    let out = run_guest(
        &fetch_wasm(),
        ctx(&server.origin(), Limits::default()),
        &[
            "GET",
            &server.url("/big-head"),
            "--header",
            "content-security-policy",
        ],
    );
    out.assert_body(200, b"ok");
    assert_eq!(
        out.line_value("header content-security-policy: "),
        Some(csp.as_str())
    );
}

#[test]
fn status_line_too_long_is_25() {
    let status_line = format!("HTTP/1.1 200 {}", "O".repeat(2000));
    let out = fetch_scripted(head_with(&status_line, &[], "x"), small_limits());
    out.assert_error(ErrorCode::ResponseHeaderLineTooLong, &["req"]);
}

#[test]
fn field_line_too_long_is_25() {
    let field = format!("x-long: {}", "a".repeat(2000));
    let out = fetch_scripted(head_with("HTTP/1.1 200 OK", &[field], "x"), small_limits());
    out.assert_error(ErrorCode::ResponseHeaderLineTooLong, &["req"]);
}

#[test]
fn header_section_too_large_is_26() {
    // Ten lines of ~900 bytes: each under the 1 KiB line limit, ten fewer than the field
    // count limit, together twice the 4 KiB section limit.
    let fields: Vec<String> = (0..10)
        .map(|i| format!("x-big-{i}: {}", "s".repeat(900)))
        .collect();
    let out = fetch_scripted(head_with("HTTP/1.1 200 OK", &fields, "x"), small_limits());
    out.assert_error(ErrorCode::ResponseHeaderSectionTooLarge, &["req"]);
}

#[test]
fn too_many_fields_is_27_with_default_limits() {
    // 150 tiny fields: 2 KiB, far under the section limit, over the 100-field limit.
    let fields: Vec<String> = (0..150).map(|i| format!("x-{i}: 1")).collect();
    let out = fetch_scripted(
        head_with("HTTP/1.1 200 OK", &fields, "x"),
        Limits::default(),
    );
    out.assert_error(ErrorCode::ResponseTooManyHeaders, &["req"]);
}

#[test]
fn chunk_size_line_too_long_is_28_with_default_limits() {
    // A chunk extension of 5000 bytes: over the 4 KiB default chunk-line limit.
    let resp = format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext={}\r\nhello\r\n0\r\n\r\n",
        "e".repeat(5000)
    );
    let out = fetch_scripted(resp.into_bytes(), Limits::default());
    assert_eq!(out.line_value("status: "), Some("200"), "{out}");
    out.assert_error(ErrorCode::ResponseChunkLineTooLong, &["body"]);
}

// abi.md "Chunked" and the limits table: "the line without its terminator MUST fit the chunk
// line limit, else 28" (RFC 9112 §7.1: the CRLF ends the line, it is not part of the size or
// its extensions). A line of exactly the limit passes, CRLF or bare LF after it; one byte more
// is 28. This guards against counting the CRLF, which made a line of exactly the limit 28.
#[test]
fn chunk_line_of_exactly_the_limit_passes_and_one_more_is_28() {
    let limits = Limits {
        max_chunk_line: 8,
        ..small_limits()
    };
    let chunked = |first_line: &str, eol: &str| {
        format!(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{first_line}{eol}x\r\n0\r\n\r\n"
        )
        .into_bytes()
    };
    for line in ["1;abcdef", "00000001", "1 ;a=\"b\""] {
        assert_eq!(line.len(), 8);
        for eol in ["\r\n", "\n"] {
            let out = fetch_scripted(chunked(line, eol), limits.clone());
            out.assert_body(200, b"x");
        }
    }
    for line in ["1;abcdefg", "000000001"] {
        let out = fetch_scripted(chunked(line, "\r\n"), limits.clone());
        assert_eq!(out.line_value("status: "), Some("200"), "{out}");
        out.assert_error(ErrorCode::ResponseChunkLineTooLong, &["body"]);
    }
}

/// The limit is "larger than the maximum": a body of exactly the maximum passes.
#[test]
fn body_of_exactly_max_response_body_passes() {
    let body = "m".repeat(1000);
    let out = fetch_scripted(head_with("HTTP/1.1 200 OK", &[], &body), small_limits());
    out.assert_body(200, body.as_bytes());

    let chunked = format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1f4\r\n{0}\r\n1f4\r\n{0}\r\n0\r\n\r\n",
        "c".repeat(500)
    );
    let out = fetch_scripted(chunked.into_bytes(), small_limits());
    out.assert_body(200, "c".repeat(1000).as_bytes());
}

/// An announced Content-Length over the maximum is refused by the first `body_read` (abi.md,
/// `body_read` errors): the head itself is fine, so `req` succeeds and shows the status.
#[test]
fn content_length_over_max_response_body_is_29() {
    let body = "L".repeat(5000);
    let out = fetch_scripted(head_with("HTTP/1.1 200 OK", &[], &body), small_limits());
    assert_eq!(out.line_value("status: "), Some("200"), "{out}");
    out.assert_error(ErrorCode::ResponseBodyTooLarge, &["body"]);
}

#[test]
fn chunked_body_growing_past_max_response_body_is_29() {
    let chunk = "k".repeat(400);
    // Five 400-byte chunks: the body passes 1000 bytes in the third.
    let chunks = format!("190\r\n{chunk}\r\n").repeat(5);
    let resp = format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{chunks}0\r\n\r\n");
    let out = fetch_scripted(resp.into_bytes(), small_limits());
    assert_eq!(out.line_value("status: "), Some("200"), "{out}");
    out.assert_error(ErrorCode::ResponseBodyTooLarge, &["body"]);
}

#[test]
fn request_body_too_large_is_30_and_nothing_is_sent() {
    let post = |server: &TestServer, body: &str| {
        run_guest(
            &fetch_wasm(),
            ctx(&server.origin(), small_limits()),
            &["POST", &server.url("/upload"), "--body", body],
        )
    };

    let at_limit = "p".repeat(100);
    post(&TestServer::echo(), &at_limit).assert_body(200, at_limit.as_bytes());

    let server = TestServer::echo();
    post(&server, &"p".repeat(101)).assert_error(ErrorCode::RequestBodyTooLarge, &["req"]);
    server.assert_untouched();
}

#[test]
fn request_header_block_too_large_is_31_and_nothing_is_sent() {
    let server = TestServer::echo();
    let big = format!("x-big:{}", "h".repeat(400));
    let out = run_guest(
        &fetch_wasm(),
        ctx(&server.origin(), small_limits()),
        &["GET", &server.url("/"), "-H", &big],
    );
    out.assert_error(ErrorCode::RequestHeadersTooLarge, &["req"]);
    server.assert_untouched();

    // Control: a block well under the limit goes through.
    let small = format!("x-small:{}", "h".repeat(100));
    let out = run_guest(
        &fetch_wasm(),
        ctx(&server.origin(), small_limits()),
        &["GET", &server.url("/"), "-H", &small],
    );
    out.assert_status(200);
}

/// How a raw endless server ended.
struct Endless {
    /// Bytes written before the connection broke or the cap was hit.
    sent: u64,
    /// Whether the client broke the connection (as opposed to the server reaching its cap).
    client_hung_up: bool,
}

/// A server that answers its first connection with `prefix` followed by `line` repeated until
/// the client stops reading and hangs up, or 256 MiB were sent.
fn endless_server(prefix: &'static [u8], line: Vec<u8>) -> (String, mpsc::Receiver<Endless>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // A client that stops reading without closing must not hang the test.
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut sent = 0u64;
        let mut client_hung_up = false;
        let mut chunk = prefix.to_vec();
        while sent < 256 << 20 {
            match s.write_all(&chunk) {
                Ok(()) => sent += chunk.len() as u64,
                Err(e) => {
                    client_hung_up = !matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    );
                    break;
                }
            }
            chunk.clone_from(&line);
        }
        let _ = s.shutdown(Shutdown::Both);
        let _ = tx.send(Endless {
            sent,
            client_hung_up,
        });
    });
    (origin, rx)
}

fn run_against_endless(prefix: &'static [u8], line: Vec<u8>, code: ErrorCode) {
    let (origin, done) = endless_server(prefix, line);
    let start = Instant::now();
    let out = run_guest(
        &fetch_wasm(),
        ctx(&origin, Limits::default()),
        &["GET", &format!("{origin}/endless")],
    );
    out.assert_error(code, &["req"]);
    let end = done
        .recv_timeout(Duration::from_secs(30))
        .expect("endless server finished");
    // The host read at most the limit plus what the socket buffers held: far from the cap.
    assert!(
        end.client_hung_up,
        "the server was not hung up on; sent {} bytes",
        end.sent
    );
    assert!(
        end.sent < 32 << 20,
        "the host consumed {} bytes of an endless header section",
        end.sent
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// An endless header section (each line fine on its own) stops at the section limit.
#[test]
fn endless_header_section_stops_at_the_section_limit() {
    // Lines sized from the defaults so that a third of the field-count limit passes the section
    // limit, while each line stays under the line limit.
    let d = Limits::default();
    let len = d.max_header_section / (d.max_header_count / 3);
    assert!(
        len < d.max_header_line,
        "each line must be acceptable on its own"
    );
    let mut line = b"x-filler: ".to_vec();
    line.extend(std::iter::repeat_n(b'f', len - 12));
    line.extend_from_slice(b"\r\n");
    run_against_endless(
        b"HTTP/1.1 200 OK\r\n",
        line,
        ErrorCode::ResponseHeaderSectionTooLarge,
    );
}

/// A field line that never ends stops at the line limit.
#[test]
fn endless_field_line_stops_at_the_line_limit() {
    run_against_endless(
        b"HTTP/1.1 200 OK\r\nx-endless: ",
        vec![b'e'; 64 * 1024],
        ErrorCode::ResponseHeaderLineTooLong,
    );
}
