//! Binary compatibility (abi.md "Compatibility with the 0.10 ABI"): a guest built
//! against the crates.io `wasi-experimental-http` 0.10.0, which nobody here wrote, runs
//! unchanged on this host.
//!
//! `compat` prints `status: N`, `content-type: V`, `headers: N`, `body: TEXT` (get/post),
//! `status`/`body` (send), `open I: ok N|err E` and `read I: N|err E` (multi), or `error: E`
//! with exit code 1.

use e2e::guests::{guest_wasm, repo_root};
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

// Moving a 0.10 guest's source to this project's crate (README.md, guest/README.md,
// CHANGELOG.md): tests/migrated-guest is tests/compat-guest with its dependency lines changed
// to the documented ones and nothing else, sharing its source through a link.

/// The dependency line the documentation gives a 0.10 guest (with `http = "1"`).
const MIGRATION_LINE: &str = r#"wasi-experimental-http = { package = "wasi-experimental-http-guest", version = "0.11", features = ["http"] }"#;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A manifest's TOML lines, without comments and blank lines.
fn toml_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

#[test]
fn migrated_guest_changes_only_the_documented_dependency_lines() {
    for doc in ["README.md", "guest/README.md", "CHANGELOG.md"] {
        let text = repo_file(doc);
        assert!(
            text.lines().any(|l| l.trim() == MIGRATION_LINE),
            "{doc} does not give the migration line {MIGRATION_LINE}"
        );
        assert!(
            text.lines().any(|l| l.trim() == r#"http = "1""#),
            "{doc} does not say http = \"1\""
        );
    }

    let original = repo_file("tests/compat-guest/Cargo.toml");
    let migrated = repo_file("tests/migrated-guest/Cargo.toml");
    let (migrated, patch) = migrated
        .split_once("[patch.crates-io]")
        .expect("migrated-guest patches crates.io with the local guest crate");
    assert_eq!(
        toml_lines(patch),
        [r#"wasi-experimental-http-guest = { path = "../../guest" }"#],
        "the patch section only stands in for the unpublished crate"
    );
    let changed = [
        (r#"wasi-experimental-http = "=0.10.0""#, MIGRATION_LINE),
        (r#"http = "0.2""#, r#"http = "1""#),
    ];
    let expected: Vec<&str> = toml_lines(&original)
        .into_iter()
        .map(|line| {
            changed
                .iter()
                .find(|(old, _)| *old == line)
                .map_or(line, |(_, new)| new)
        })
        .collect();
    for (old, _) in changed {
        assert!(
            toml_lines(&original).contains(&old),
            "compat-guest no longer has {old}"
        );
    }
    assert_eq!(toml_lines(migrated), expected);
    assert_eq!(
        std::fs::read_link(repo_root().join("tests/migrated-guest/src")).unwrap(),
        std::path::Path::new("../compat-guest/src"),
        "migrated-guest must build compat-guest's own source"
    );
}

// The migrated guest builds and, for the 0.10 API's three ways to send a request, prints
// exactly what the same source built against crates.io 0.10.0 prints, on the same server.
#[test]
fn migrated_guest_prints_what_the_0_10_build_prints() {
    let original = guest_wasm("tests/compat-guest", "compat");
    let migrated = guest_wasm("tests/migrated-guest", "compat");
    let server = TestServer::echo();
    for (command, path) in [("get", "/compat"), ("post", "/post"), ("send", "/send")] {
        let url = server.url(path);
        let before = run_guest(&original, ctx_allowing([server.origin()]), &[command, &url]);
        let after = run_guest(&migrated, ctx_allowing([server.origin()]), &[command, &url]);
        before.assert_success();
        assert_eq!(after.exit_code, before.exit_code, "{command}:\n{after}");
        assert_eq!(after.stdout, before.stdout, "{command}:\n{after}");
    }
}
