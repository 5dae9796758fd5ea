//! The AssemblyScript package (`guest/assemblyscript`) end to end: guests in
//! `tests/as-guests/` built with `npm ci` + `asc` (AssemblyScript 0.28, wasi-shim) and run on
//! this host against loopback servers. `fetch.ts` documents the modes; each test checks what
//! the server received as well as what the guest printed.

use e2e::foreign::as_guest;
use e2e::run::{GuestOutput, run_guest};
use e2e::server::{Fnv1a64, Reply, TestServer};
use e2e::{ctx_allowing, ctx_builder};
use wasi_experimental_http_host::ErrorCode as E;

fn fetch(ctx: wasi_experimental_http_host::HttpCtx, args: &[&str]) -> GuestOutput {
    run_guest(&as_guest("fetch", &["-O2"]), ctx, args)
}

fn fetch_from(server: &TestServer, mode: &str, args: &[&str]) -> GuestOutput {
    let url = server.url("/path?q=1");
    let mut all = vec![mode, url.as_str()];
    all.extend_from_slice(args);
    fetch(ctx_allowing([server.origin()]), &all)
}

// The original API: RequestBuilder(url).send(), status, headerGet, bodyReadAll; the GET on
// the wire is exactly request line, Host, nothing else.
#[test]
fn get_with_the_original_api() {
    let server = TestServer::scripted(vec![Reply::raw(
        "HTTP/1.1 200 OK\r\nContent-Type: text/x-as\r\nContent-Length: 5\r\n\r\nhello",
    )]);
    let out = fetch_from(&server, "get", &[]);
    out.assert_success()
        .assert_line("status: ", "200")
        .assert_line("ok: ", "yes")
        .assert_line("content-type: ", "text/x-as")
        .assert_line("body: ", "hello");
    let req = &server.requests()[0];
    assert_eq!(
        req.head(),
        format!("GET /path?q=1 HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr())
    );
}

// The original README's POST (method, two headers, a body) and the free `request(Request)`
// with a PUT: the echo server returns the bodies, the recorded requests carry the headers.
#[test]
fn post_with_body_and_headers() {
    let server = TestServer::echo();
    let out = fetch_from(&server, "post", &[]);
    out.assert_success()
        .assert_line("status: ", "200")
        .assert_line("content-type: ", "text/plain")
        .assert_line(
            "body: ",
            "Testing with a request body. Does this actually work?",
        )
        .assert_line("put-status: ", "200")
        .assert_line("put-body: ", "put body");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].header("content-type"), Some("text/plain"));
    assert_eq!(reqs[0].header("abc"), Some("def"));
    assert_eq!(reqs[0].header("content-length"), Some("53"));
    assert_eq!(reqs[1].method, "PUT");
    assert_eq!(reqs[1].header("x-put"), Some("yes"));
    assert_eq!(reqs[1].body, b"put body");
}

// headerGet joins repeated fields; a value longer than the first 256-byte buffer is read whole
// after buffer_too_small (the buffer grows to the reported length); a missing header is
// header_not_found through tryHeaderGet and "" through headerGet; headerGetAll lowercases names
// and joins repeats.
#[test]
fn header_lookups_grow_the_buffer_and_report_codes() {
    let long = "v".repeat(3000);
    let server = TestServer::scripted(vec![Reply::raw(format!(
        "HTTP/1.1 200 OK\r\nX-Long: {long}\r\nX-Rep: a\r\nx-rep: b\r\nContent-Length: 0\r\n\r\n"
    ))]);
    let out = fetch_from(&server, "headers", &["x-long", "X-REP", "X-Missing"]);
    out.assert_success()
        .assert_line("header x-long: ", &format!("3000 {long}"))
        .assert_line("header X-REP: ", "4 a, b")
        .assert_line(
            "header X-Missing: ",
            &format!("error {} header_not_found", E::HeaderNotFound.code()),
        )
        .assert_line(
            "headerGet X-Missing: ",
            &format!("[] error {}", E::HeaderNotFound.code()),
        )
        .assert_line("all x-long: ", &long)
        .assert_line("all x-rep: ", "a, b")
        .assert_line("all content-length: ", "0");
}

// A 3 MiB chunked body streamed through bodyRead into one 7000-byte buffer arrives whole and
// in order (count and FNV-1a of the server's pattern), in many reads.
#[test]
fn streams_a_large_body() {
    let len: u64 = 3 * 1024 * 1024 + 17;
    let server = TestServer::scripted(vec![
        Reply::raw(format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{len:x}\r\n"
        ))
        .pattern(len)
        .send("\r\n0\r\n\r\n"),
    ]);
    let out = fetch_from(&server, "stream", &["7000"]);
    let mut fnv = Fnv1a64::default();
    e2e::server::pattern_for_each(len, |b| fnv.update(b));
    out.assert_success()
        .assert_line("status: ", "200")
        .assert_line("body-bytes: ", &len.to_string())
        .assert_line("body-fnv: ", &fnv.hex())
        .assert_line("reads-over-one: ", "yes");
}

// With a concurrency limit of 3, the fourth trySend reports too_many_sessions; close frees a
// slot at once; a second close reports invalid_handle without calling the host twice.
#[test]
fn concurrency_limit_and_close() {
    let server = TestServer::echo();
    let ctx = ctx_builder([server.origin()])
        .max_concurrent_requests(3)
        .build()
        .unwrap();
    let url = server.url("/");
    let out = fetch(ctx, &["limit", &url, "3"]);
    out.assert_success()
        .assert_line(
            "send 4: ",
            &format!("error {} too_many_sessions", E::TooManySessions.code()),
        )
        .assert_line("open: ", "3")
        .assert_line("close-again: ", &E::InvalidHandle.code().to_string())
        .assert_line("after-close: ", "0");
    assert_eq!(server.requests().len(), 4);
}

// trySend returns the code as a value with its name and message: a host-owned header is
// forbidden_header, an origin outside the allow-list destination_not_allowed; nothing is sent.
#[test]
fn error_codes_are_values() {
    let server = TestServer::echo();
    let out = fetch_from(&server, "error", &[]);
    out.assert_success()
        .assert_line("code: ", &E::ForbiddenHeader.code().to_string())
        .assert_line("name: ", "forbidden_header")
        .assert_line("is-forbidden-header: ", "yes")
        .assert_line(
            "denied: ",
            &format!(
                "{} destination_not_allowed",
                E::DestinationNotAllowed.code()
            ),
        );
    let describe = out.line_value("describe: ").unwrap();
    assert!(
        describe.starts_with("34 forbidden_header: ") && describe.contains("host owns"),
        "{out}"
    );
    server.assert_untouched();
}

// send() keeps the original's behaviour: it prints the code and a readable message (through
// console.error, which wasi-shim writes to stdout), then aborts: wasi-shim's abort exits with
// status 255, which wasmtime reports as a trap; nothing after it runs.
#[test]
fn send_aborts_after_printing_the_code() {
    let out = fetch(
        ctx_allowing(["http://127.0.0.1:1"]),
        &["abort", "http://127.0.0.2:1/"],
    );
    assert_ne!(out.exit_code, 0, "{out}");
    assert!(!out.stdout.contains("not reached"), "{out}");
    assert!(
        out.stdout
            .contains("request failed: 7 destination_not_allowed: ")
            && out.stdout.contains("allow-list does not admit"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("abort: wasi_experimental_http: request failed with destination_not_allowed"),
        "{out}"
    );
}

// A body cut short: the bytes before the cut, then response_incomplete, sticky on the next read.
#[test]
fn truncated_body_reports_response_incomplete() {
    let server = TestServer::scripted(vec![Reply::raw_then_close(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..",
    )]);
    let out = fetch_from(&server, "body-error", &[]);
    let code = E::ResponseIncomplete.code();
    out.assert_success()
        .assert_line(
            "read: ",
            &format!("10 bytes, code {code} response_incomplete"),
        )
        .assert_line("again: ", &code.to_string());
}

/// The response of [`body_read_all_aborts_on_a_truncated_body`] and
/// [`body_read_aborts_on_a_truncated_body`]: 10 of 100 announced bytes, then the close.
const CUT_SHORT: &str = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..";

/// Asserts the guest printed the code of a failed body read and aborted (nothing after it ran).
#[track_caller]
fn assert_body_read_aborted(out: &GuestOutput) {
    assert_ne!(out.exit_code, 0, "{out}");
    assert!(!out.stdout.contains("not reached"), "{out}");
    assert!(
        out.stdout
            .contains("body read failed: 24 response_incomplete: "),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("abort: wasi_experimental_http: body read failed with response_incomplete"),
        "{out}"
    );
}

// The original host read the whole body inside send(), so a body that failed aborted there.
// Here send() returns at the head; bodyReadAll() of the original API must then not return the
// 10 bytes before the cut as if they were the body: it prints the code and aborts.
#[test]
fn body_read_all_aborts_on_a_truncated_body() {
    let server = TestServer::scripted(vec![Reply::raw_then_close(CUT_SHORT)]);
    assert_body_read_aborted(&fetch_from(&server, "read-all", &[]));
}

// The same for bodyRead(): the bytes before the cut, then an abort, never the 0 that means the
// end of the body.
#[test]
fn body_read_aborts_on_a_truncated_body() {
    let server = TestServer::scripted(vec![Reply::raw_then_close(CUT_SHORT)]);
    let out = fetch_from(&server, "read", &[]);
    assert_body_read_aborted(&out);
    assert!(
        out.stdout.starts_with("read: 4\nread: 8\nread: 10\n"),
        "{out}"
    );
}

// A program written against the original raw imports, imported as
// `@deislabs/wasi-experimental-http/raw` (tests/as-guests/raw.ts): every function under its
// original name, the HttpError codes, the buffer types; the request carries its one field.
#[test]
fn original_raw_imports_with_the_original_import_path() {
    let server = TestServer::scripted(vec![Reply::raw(
        "HTTP/1.1 200 OK\r\nContent-Type: text/x-raw\r\nX-Two: a\r\nContent-Length: 5\r\n\r\nhello",
    )]);
    let url = server.url("/raw");
    let out = run_guest(
        &as_guest("raw", &[]),
        ctx_allowing([server.origin()]),
        &[&url],
    );
    out.assert_success();
    assert_eq!(
        out.lines(),
        [
            "req: success",
            "status: 200",
            "small: buffer_too_small 10",
            "content-type: success text/x-raw",
            "missing: header_not_found",
            "headers: success content-type:text/x-raw|x-two:a|content-length:5|",
            "alias: success 49",
            "body: hello in 2 reads",
            "close: success",
            "close again: invalid_handle",
            &format!("roundtrip: {url}"),
        ],
        "{out}"
    );
    let req = &server.requests()[0];
    assert_eq!(req.header("x-raw"), Some("yes"));
    assert_eq!(req.target, "/raw");
}

// The README's smallest AssemblyScript GET program (tests/as-guests/get.ts, built as the README
// says) runs and prints status and body.
#[test]
fn smallest_get_program_runs() {
    let server = TestServer::scripted(vec![Reply::raw(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    )]);
    let wasm = as_guest(
        "get",
        &["-Oz", "--converge", "--runtime", "stub", "--noAssert"],
    );
    let out = run_guest(&wasm, ctx_allowing([server.origin()]), &[&server.url("/")]);
    out.assert_success();
    assert_eq!(out.lines(), ["200", "ok"], "{out}");
}

// The original package's README example (tests/as-guests/original.ts) compiles with its import
// path unchanged, `@deislabs/wasi-experimental-http` (installed from guest/assemblyscript under
// that name), and prints status, content type and the echoed body.
#[test]
fn original_readme_example_with_the_original_import_path() {
    let server = TestServer::echo();
    let out = run_guest(
        &as_guest("original", &[]),
        ctx_allowing([server.origin()]),
        &[&server.url("/post")],
    );
    out.assert_success();
    assert_eq!(
        out.lines(),
        ["200", "text/plain", "testing the body"],
        "{out}"
    );
    assert_eq!(server.requests()[0].method, "POST");
}

// The AssemblyScript migration of README.md and CHANGELOG.md: the original package name is an
// npm alias of this package (wasi-experimental-http-as), which is how tests/as-guests installs
// it for original.ts above.
#[test]
fn original_package_name_is_an_alias_of_this_package() {
    let root = e2e::guests::repo_root();
    let json = |path: &str| -> serde_json::Value {
        let text =
            std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    assert_eq!(
        json("guest/assemblyscript/package.json")["name"],
        "wasi-experimental-http-as"
    );
    assert_eq!(
        json("tests/as-guests/package.json")["devDependencies"]["@deislabs/wasi-experimental-http"],
        "file:../../guest/assemblyscript"
    );
    // The lockfile `npm ci` installs from resolves the alias to that package.
    let lock = json("tests/as-guests/package-lock.json");
    assert_eq!(
        lock["packages"]["node_modules/@deislabs/wasi-experimental-http"]["resolved"],
        "../../guest/assemblyscript"
    );
    assert_eq!(
        lock["packages"]["../../guest/assemblyscript"]["name"],
        "wasi-experimental-http-as"
    );
    let alias = "npm install --save-dev @deislabs/wasi-experimental-http@npm:wasi-experimental-http-as@0.11";
    for doc in [
        "README.md",
        "CHANGELOG.md",
        "guest/assemblyscript/README.md",
    ] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
        assert!(
            text.contains(alias),
            "{doc} does not give the alias: {alias}"
        );
    }
}
