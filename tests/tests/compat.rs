//! Binary compatibility (abi.md "Compatibility with the 0.10 ABI"): a guest built
//! against the crates.io `wasi-experimental-http` 0.10.0, which nobody here wrote, runs
//! unchanged on this host.
//!
//! `compat` prints `status: N`, `content-type: V`, `headers: N`, `body: TEXT` (get/post),
//! `status`/`body` (send), `open I: ok N|err E` and `read I: N|err E` (multi), or `error: E`
//! with exit code 1.

use e2e::guests::guest_wasm;
use e2e::run::{GuestOutput, run_guest};
use e2e::server::TestServer;
use e2e::{ctx_allowing, ctx_builder};
use wasi_experimental_http_host::HttpCtx;

const SEED_BODY: &str = "Testing with a request body. Does this actually work?";

fn compat(ctx: HttpCtx, args: &[&str]) -> GuestOutput {
    run_guest(&guest_wasm("tests/compat-guest", "compat"), ctx, args)
}

/// Runs `compat COMMAND URL` for `path` on `server`, with a context admitting it.
fn compat_on(server: &TestServer, command: &str, path: &str) -> GuestOutput {
    compat(
        ctx_allowing([server.origin()]),
        &[command, &server.url(path)],
    )
}

// 0.10 `request` + `Response::{header_get, headers_get_all, body_read_all}` on a GET.
#[test]
fn compat_get_reads_status_headers_and_body() {
    let server = TestServer::echo();
    let out = compat_on(&server, "get", "/compat");
    out.assert_status(200)
        .assert_line("content-type: ", "text/plain");
    out.assert_line("headers: ", "2");
    assert_eq!(
        out.line_value("body: "),
        Some("GET /compat"),
        "first body line is the request line:\n{out}"
    );
}

// The 0.10 README's example (the seed): POST with Content-Type text/plain, a custom header and
// a body; the echo comes back with status 200 and the same content type, and the server
// received exactly the guest's fields plus the host's Host and Content-Length.
#[test]
fn compat_post_seed_example_round_trips() {
    let server = TestServer::echo();
    let out = compat_on(&server, "post", "/post");
    out.assert_status(200)
        .assert_line("content-type: ", "text/plain");
    out.assert_line("body: ", SEED_BODY);
    let r = server.wait_requests(1);
    let want = format!(
        "POST /post HTTP/1.1\r\nHost: 127.0.0.1:{}\r\ncontent-type: text/plain\r\nabc: def\r\nContent-Length: {}\r\n\r\n{SEED_BODY}",
        server.port(),
        SEED_BODY.len()
    );
    assert_eq!(String::from_utf8_lossy(&r[0].raw), want);
}

// 0.10 `send_request` (request + headers_get_all + body_read_all into an http::Response).
#[test]
fn compat_send_request_builds_a_full_response() {
    let server = TestServer::echo();
    let out = compat_on(&server, "send", "/send");
    out.assert_status(200).assert_line("body: ", "GET /send");
}

// 0.10 semantics of the concurrency limit: with max_concurrent_requests 2, the third open
// request fails with code 13 (too_many_sessions, "Wasi error 13" in that crate); the two open
// responses still read to the end, and their Drop (close().unwrap()) does not panic.
#[test]
fn compat_multi_respects_concurrency_limit() {
    let server = TestServer::echo();
    let ctx = ctx_builder([server.origin()])
        .max_concurrent_requests(2)
        .build()
        .unwrap();
    let out = compat(ctx, &["multi", &server.url("/m"), "3"]);
    out.assert_success();
    let lines = out.lines();
    assert!(lines.contains(&"open 0: ok 200"), "{out}");
    assert!(lines.contains(&"open 1: ok 200"), "{out}");
    let third = lines
        .iter()
        .find(|l| l.starts_with("open 2: "))
        .unwrap_or_else(|| panic!("no line for the third request:\n{out}"));
    assert_eq!(*third, "open 2: err Wasi error 13", "{out}");
    let body_len = format!("GET /m\nHost: 127.0.0.1:{}\n", server.port()).len();
    assert!(
        lines.contains(&format!("read 0: {body_len}").as_str()),
        "{out}"
    );
    assert!(
        lines.contains(&format!("read 1: {body_len}").as_str()),
        "{out}"
    );
    assert_eq!(
        server.requests().len(),
        2,
        "the refused request reached the server"
    );
}

// Codes 0..=13 mean what they meant: a URL outside the allow-list is code 7 to a 0.10 guest.
#[test]
fn compat_sees_destination_not_allowed_as_code_7() {
    let server = TestServer::echo();
    let out = compat(
        HttpCtx::new(None, None).unwrap(),
        &["get", &server.url("/")],
    );
    assert_eq!(out.exit_code, 1, "{out}");
    let err = out.line_value("error: ").unwrap_or_default();
    assert_eq!(err, "Wasi error 7", "{out}");
    server.assert_untouched();
}
