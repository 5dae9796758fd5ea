//! The C header (`guest/c/wasi_experimental_http.h`) end to end: `tests/c-guests/fetch.c` and
//! `examples/c/get.c`, compiled with clang for wasm32-wasi, run on this host against loopback
//! servers. `fetch.c` documents its modes.

use e2e::foreign::c_guest;
use e2e::run::{GuestOutput, run_guest};
use e2e::server::{Fnv1a64, Reply, TestServer};
use e2e::{ctx_allowing, ctx_builder};
use wasi_experimental_http_host::{ErrorCode as E, HttpCtx};

fn fetch(ctx: HttpCtx, args: &[&str]) -> GuestOutput {
    run_guest(&c_guest("tests/c-guests/fetch.c", &["-O2"]), ctx, args)
}

fn fetch_from(server: &TestServer, mode: &str, args: &[&str]) -> GuestOutput {
    let url = server.url("/c");
    let mut all = vec![mode, url.as_str()];
    all.extend_from_slice(args);
    fetch(ctx_allowing([server.origin()]), &all)
}

// weh_get + weh_header: a 4-byte buffer is too small for the value and its NUL, the needed
// length comes back, a buffer of that length + 1 holds it; weh_read_all reads the body.
#[test]
fn get_grows_the_header_buffer() {
    let server = TestServer::scripted(vec![Reply::raw(
        "HTTP/1.1 200 OK\r\nContent-Type: text/x-c-guest\r\nContent-Length: 5\r\n\r\nhello",
    )]);
    let out = fetch_from(&server, "get", &[]);
    out.assert_success()
        .assert_line("status: ", "200")
        .assert_line(
            "first-try: ",
            &format!("{} buffer_too_small needed 14", E::BufferTooSmall.code()),
        )
        .assert_line("content-type: ", "text/x-c-guest (14)")
        .assert_line("body: ", "hello");
    assert_eq!(
        server.requests()[0].head(),
        format!("GET /c HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr())
    );
}

// weh_request with a header block and a body: both reach the server as given.
#[test]
fn post_with_headers_and_body() {
    let server = TestServer::echo();
    let out = fetch_from(&server, "post", &[]);
    let sent = "Testing with a request body. Does this actually work?";
    out.assert_success()
        .assert_line("status: ", "200")
        .assert_line("body: ", sent);
    let req = &server.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.header("content-type"), Some("text/plain"));
    assert_eq!(req.header("abc"), Some("def"));
    assert_eq!(req.body, sent.as_bytes());
}

// weh_headers_get_all: a zero-length probe reports the exact length, which then fits; a
// missing header is header_not_found; a closed handle is invalid_handle.
#[test]
fn header_block_probe_and_codes() {
    let server = TestServer::scripted(vec![Reply::raw(
        "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 0\r\n\r\n",
    )]);
    let out = fetch_from(&server, "headers", &[]);
    let block = "x-a:1\nx-a:2\ncontent-length:0\n";
    out.assert_success()
        .assert_line(
            "probe: ",
            &format!("{} needed {}", E::BufferTooSmall.code(), block.len()),
        )
        .assert_line("block: ", &format!("{} bytes", block.len()))
        .assert_line(
            "missing: ",
            &format!("{} header_not_found", E::HeaderNotFound.code()),
        )
        .assert_line("close: ", "0")
        .assert_line(
            "close-again: ",
            &format!("{} invalid_handle", E::InvalidHandle.code()),
        );
    assert!(out.stdout.contains(block), "{out}");
}

// A 2 MiB Content-Length body through weh_read with a 4099-byte buffer: count and FNV-1a match.
#[test]
fn streams_a_large_body() {
    let len: u64 = 2 * 1024 * 1024 + 3;
    let server = TestServer::scripted(vec![
        Reply::raw(format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n")).pattern(len),
    ]);
    let out = fetch_from(&server, "stream", &["4099"]);
    let mut fnv = Fnv1a64::default();
    e2e::server::pattern_for_each(len, |b| fnv.update(b));
    out.assert_success()
        .assert_line("body-bytes: ", &len.to_string())
        .assert_line("body-fnv: ", &fnv.hex());
}

// The concurrency limit (2 here): the third request is too_many_sessions, a close frees a slot.
#[test]
fn concurrency_limit() {
    let server = TestServer::echo();
    let ctx = ctx_builder([server.origin()])
        .max_concurrent_requests(2)
        .build()
        .unwrap();
    let out = fetch(ctx, &["limit", &server.url("/"), "2"]);
    out.assert_success()
        .assert_line(
            "req 3: ",
            &format!("{} too_many_sessions", E::TooManySessions.code()),
        )
        .assert_line("open: ", "2")
        .assert_line("after-close: ", "0");
}

// Codes, names and messages through the header's enum and weh_strerror; the outputs of a failed
// req are untouched; an unknown code has a name.
#[test]
fn error_codes_names_and_messages() {
    let server = TestServer::echo();
    let out = fetch_from(&server, "error", &[]);
    out.assert_success()
        .assert_line("code: ", &E::ForbiddenHeader.code().to_string())
        .assert_line("name: ", "forbidden_header")
        .assert_line("outputs-untouched: ", "yes")
        .assert_line(
            "denied: ",
            &format!(
                "{} destination_not_allowed",
                E::DestinationNotAllowed.code()
            ),
        )
        .assert_line("unknown: ", "unknown");
    assert!(
        out.line_value("message: ")
            .is_some_and(|m| m.contains("host owns")),
        "{out}"
    );
    server.assert_untouched();
}

// The README's smallest C program (examples/c/get.c, with the README's flags) prints the status
// and the body; an origin outside the allow-list prints the code's name and exits 1.
#[test]
fn smallest_get_program_runs() {
    let wasm = c_guest("examples/c/get.c", &["-Oz", "-Wl,--strip-all"]);
    let server = TestServer::scripted(vec![Reply::raw(
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n",
    )]);
    let out = run_guest(&wasm, ctx_allowing([server.origin()]), &[&server.url("/")]);
    out.assert_success();
    assert_eq!(out.lines(), ["200", "ok"], "{out}");
    let denied = run_guest(
        &wasm,
        ctx_allowing([server.origin()]),
        &["http://10.0.0.1/"],
    );
    assert_eq!(denied.exit_code, 1, "{denied}");
    assert_eq!(denied.lines(), ["destination_not_allowed"], "{denied}");
}
