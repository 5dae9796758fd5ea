//! Interoperability with a real server: nginx on loopback, over HTTP and HTTPS.
//!
//! nginx is required: without it these tests fail (see `.ci/run`), they never skip. Each test
//! starts its own nginx so the access log (`$connection $connection_requests ...`) holds only
//! its own requests, which is how connection reuse is proven from the server's side.

// clippy.toml allows these inside #[test] only; the helpers here need them too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] (servers, fixtures, parsers) panic on failure"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use e2e::guests::guest_wasm;
use e2e::nginx::{AccessLogEntry, Nginx, SPARSE_LEN};
use e2e::run::{GuestOutput, run_guest};
use e2e::server::Fnv1a64;
use wasi_experimental_http_host::{ErrorCode, HttpCtx};

fn fetch_wasm() -> PathBuf {
    guest_wasm("tests/guests", "fetch")
}

/// The two ways to reach the same nginx.
#[derive(Clone, Copy, Debug)]
enum Scheme {
    Http,
    Https,
}

const BOTH: [Scheme; 2] = [Scheme::Http, Scheme::Https];

fn origin(nginx: &Nginx, scheme: Scheme) -> String {
    match scheme {
        Scheme::Http => nginx.http_origin(),
        Scheme::Https => nginx.https_origin(),
    }
}

/// A context admitting `origins` and trusting only nginx's test CA.
fn ctx_trusting(nginx: &Nginx, origins: &[String]) -> HttpCtx {
    HttpCtx::builder()
        .allowed_hosts(origins)
        .add_root_certificates_pem(nginx.ca_pem().as_bytes())
        .unwrap()
        .only_custom_roots(true)
        .build()
        .unwrap()
}

/// A context admitting both of nginx's origins and trusting only its test CA.
fn ctx(nginx: &Nginx) -> HttpCtx {
    ctx_trusting(nginx, &[nginx.http_origin(), nginx.https_origin()])
}

/// Runs `fetch GET <origin><uri> args...` with a fresh [`ctx`].
fn get(nginx: &Nginx, scheme: Scheme, uri: &str, args: &[&str]) -> GuestOutput {
    let url = format!("{}{uri}", origin(nginx, scheme));
    let mut all = vec!["GET", url.as_str()];
    all.extend_from_slice(args);
    run_guest(&fetch_wasm(), ctx(nginx), &all)
}

/// FNV-1a of `n` zero bytes in O(log n): xor with 0 is a no-op, so each byte only multiplies
/// by the FNV prime, and `n` bytes multiply by prime^n (mod 2^64).
fn fnv_of_zeros(n: u64) -> Fnv1a64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let (mut base, mut exp, mut pow) = (PRIME, n, 1u64);
    while exp > 0 {
        if exp & 1 == 1 {
            pow = pow.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        exp >>= 1;
    }
    Fnv1a64(Fnv1a64::default().0.wrapping_mul(pow))
}

/// The value `fetch --header NAME` printed for `name` (as passed to `--header`).
fn shown_header<'a>(out: &'a GuestOutput, name: &str) -> Option<&'a str> {
    out.line_value(&format!("header {name}: "))
}

/// Asserts that `fetch --header NAME` printed `want` for `name`; `what` names the case.
#[track_caller]
fn assert_shown_header(out: &GuestOutput, name: &str, want: &str, what: &str) {
    assert_eq!(
        shown_header(out, name),
        Some(want),
        "{what}: {name}:\n{out}"
    );
}

/// The entries for `uri`, failing with the whole log if their number is not `n`.
fn log_for(nginx: &Nginx, uri: &str, n: usize) -> Vec<AccessLogEntry> {
    let log = nginx.wait_access_log(n);
    let mine: Vec<AccessLogEntry> = log.iter().filter(|e| e.uri == uri).cloned().collect();
    assert_eq!(mine.len(), n, "access log for {uri}: {log:#?}");
    mine
}

/// Asserts the entries were served one after the other on a single connection.
fn assert_one_connection(entries: &[AccessLogEntry]) {
    let first = &entries[0];
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(
            (e.connection, e.connection_requests),
            (first.connection, i as u64 + 1),
            "request {i} was not request {} on connection {}: {entries:#?}",
            i + 1,
            first.connection
        );
    }
}

#[test]
fn nginx_fixture_serves_what_the_tests_expect() {
    // Checks the fixture itself with a plain socket, so a broken nginx config shows up here
    // rather than as a puzzling host failure.
    let nginx = Nginx::start();
    let raw = raw_get(&nginx, Nginx::CHUNKED_PATH, &[]);
    let (head, body) = split_head(&raw);
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    assert_eq!(dechunk(body), nginx.chunked_expected());
    assert!(
        !nginx.chunked_expected().is_empty()
            && nginx.chunked_expected() != nginx.file_bytes(Nginx::CHUNKED_PATH)
    );
}

#[test]
fn static_file_with_content_length() {
    let nginx = Nginx::start();
    let expected = nginx.file_bytes(Nginx::STATIC_PATH);
    for scheme in BOTH {
        let out = get(
            &nginx,
            scheme,
            Nginx::STATIC_PATH,
            &["--header", "content-length"],
        );
        out.assert_body(200, &expected);
        assert_shown_header(
            &out,
            "content-length",
            &expected.len().to_string(),
            &format!("{scheme:?}"),
        );
    }
    let log = nginx.wait_access_log(2);
    let schemes: Vec<&str> = log.iter().map(|e| e.scheme.as_str()).collect();
    assert_eq!(schemes, ["http", "https"]);
}

/// HTTPS by name: SNI and certificate name verification against `localhost`.
#[test]
fn https_by_name_verifies_the_certificate_name() {
    let nginx = Nginx::start();
    let origin = nginx.https_localhost_origin();
    let ctx = ctx_trusting(&nginx, std::slice::from_ref(&origin));
    let out = run_guest(
        &fetch_wasm(),
        ctx,
        &["GET", &format!("{origin}{}", Nginx::STATIC_PATH)],
    );
    out.assert_body(200, &nginx.file_bytes(Nginx::STATIC_PATH));
}

/// Without the test CA the same server is untrusted.
#[test]
fn https_without_the_ca_is_a_certificate_error() {
    let nginx = Nginx::start();
    let ctx = HttpCtx::builder()
        .allowed_hosts([nginx.https_origin()])
        .build()
        .unwrap();
    let out = run_guest(
        &fetch_wasm(),
        ctx,
        &[
            "GET",
            &format!("{}{}", nginx.https_origin(), Nginx::STATIC_PATH),
        ],
    );
    out.assert_error(ErrorCode::TlsCertificateError, &["req"]);
}

#[test]
fn chunked_response_is_decoded() {
    let nginx = Nginx::start();
    let expected = nginx.chunked_expected();
    for scheme in BOTH {
        let out = get(
            &nginx,
            scheme,
            Nginx::CHUNKED_PATH,
            &["--header", "transfer-encoding"],
        );
        assert_shown_header(&out, "transfer-encoding", "chunked", &format!("{scheme:?}"));
        out.assert_body(200, &expected);
    }
}

/// gzip on the fly is chunked too; the host passes the compressed bytes through untouched
/// (it never decodes content codings). The reference bytes come from a plain socket and a
/// chunked decoder written here, independent of the host's.
#[test]
fn gzip_chunked_response_is_passed_through() {
    let nginx = Nginx::start();
    let raw = raw_get(&nginx, Nginx::GZIP_PATH, &["Accept-Encoding: gzip"]);
    let (head, body) = split_head(&raw);
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let gzip = dechunk(body);
    assert_eq!(&gzip[..2], &[0x1f, 0x8b], "not a gzip stream");

    for scheme in BOTH {
        let out = get(
            &nginx,
            scheme,
            Nginx::GZIP_PATH,
            &[
                "-H",
                "Accept-Encoding:gzip",
                "--header",
                "content-encoding",
                "--header",
                "transfer-encoding",
            ],
        );
        assert_shown_header(&out, "content-encoding", "gzip", &format!("{scheme:?}"));
        assert_shown_header(&out, "transfer-encoding", "chunked", &format!("{scheme:?}"));
        out.assert_body(200, &gzip);
    }
}

#[test]
fn keep_alive_reuses_one_connection() {
    let nginx = Nginx::start();
    let expected = nginx.file_bytes(Nginx::STATIC_PATH);
    for (i, scheme) in BOTH.into_iter().enumerate() {
        let uri = format!("{}?keepalive={i}", Nginx::STATIC_PATH);
        let out = get(&nginx, scheme, &uri, &["--repeat", "5"]);
        assert_eq!(out.line_values("status: "), ["200"; 5], "{out}");
        out.assert_body(200, &expected);
        assert_one_connection(&log_for(&nginx, &uri, 5));
    }
}

/// A second store made with `new_sibling` takes the first store's pooled connection.
#[test]
fn sibling_store_reuses_the_pooled_connection() {
    let nginx = Nginx::start();
    let expected = nginx.file_bytes(Nginx::STATIC_PATH);
    for (i, scheme) in BOTH.into_iter().enumerate() {
        let uri = format!("{}?sibling={i}", Nginx::STATIC_PATH);
        let url = format!("{}{uri}", origin(&nginx, scheme));
        let first = ctx(&nginx);
        let second = first.new_sibling();
        run_guest(&fetch_wasm(), first, &["GET", &url]).assert_body(200, &expected);
        run_guest(&fetch_wasm(), second, &["GET", &url]).assert_body(200, &expected);
        assert_one_connection(&log_for(&nginx, &uri, 2));
    }
}

/// HEAD: nginx announces the GET's Content-Length but sends no body; the host must not wait
/// for one, and the connection must be usable for the next request.
#[test]
fn head_has_no_body_and_keeps_the_connection() {
    let nginx = Nginx::start();
    let expected = nginx.file_bytes(Nginx::STATIC_PATH);
    for (i, scheme) in BOTH.into_iter().enumerate() {
        let uri = format!("{}?head={i}", Nginx::STATIC_PATH);
        let url = format!("{}{uri}", origin(&nginx, scheme));
        let first = ctx(&nginx);
        let second = first.new_sibling();
        let out = run_guest(
            &fetch_wasm(),
            first,
            &["HEAD", &url, "--header", "content-length"],
        );
        out.assert_body(200, b"");
        assert_shown_header(
            &out,
            "content-length",
            &expected.len().to_string(),
            &format!("{scheme:?}"),
        );
        run_guest(&fetch_wasm(), second, &["GET", &url]).assert_body(200, &expected);
        let log = log_for(&nginx, &uri, 2);
        assert_one_connection(&log);
        assert_eq!(
            (log[0].method.as_str(), log[1].method.as_str()),
            ("HEAD", "GET")
        );
    }
}

/// `If-None-Match` with the ETag gives 304 without a body, and the connection stays usable.
#[test]
fn etag_revalidation_gives_304() {
    let nginx = Nginx::start();
    for (i, scheme) in BOTH.into_iter().enumerate() {
        let uri = format!("{}?etag={i}", Nginx::STATIC_PATH);
        let url = format!("{}{uri}", origin(&nginx, scheme));
        let first = ctx(&nginx);
        let second = first.new_sibling();
        let out = run_guest(&fetch_wasm(), first, &["GET", &url, "--header", "etag"]);
        out.assert_success();
        let etag = shown_header(&out, "etag")
            .unwrap_or_else(|| panic!("no ETag:\n{out}"))
            .to_string();
        assert!(etag.starts_with('"'), "{etag}");
        let out = run_guest(
            &fetch_wasm(),
            second,
            &[
                "GET",
                &url,
                "-H",
                &format!("If-None-Match:{etag}"),
                "--repeat",
                "2",
            ],
        );
        out.assert_body(304, b"");
        assert_eq!(out.line_values("status: "), ["304", "304"], "{out}");
        let log = log_for(&nginx, &uri, 3);
        assert_one_connection(&log);
        let codes: Vec<u16> = log.iter().map(|e| e.status).collect();
        assert_eq!(codes, [200, 304, 304]);
    }
}

/// nginx's 302 reaches the guest as is; the target origin (admitted, listening) is never
/// contacted.
#[test]
fn redirect_is_returned_not_followed() {
    let target = e2e::server::TestServer::echo();
    let nginx = Nginx::start_with_redirect(&target.url("/landing"));
    let ctx = HttpCtx::builder()
        .allowed_hosts([nginx.http_origin(), target.origin()])
        .build()
        .unwrap();
    let out = run_guest(
        &fetch_wasm(),
        ctx,
        &[
            "GET",
            &format!("{}{}", nginx.http_origin(), Nginx::REDIRECT_PATH),
            "--header",
            "location",
        ],
    );
    out.assert_status(302);
    assert_shown_header(&out, "location", &target.url("/landing"), "redirect");
    target.assert_untouched();
}

/// Peak resident memory of this process (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

/// 1 GiB streamed through a guest buffer: the host must never hold the body. The process's
/// peak RSS (which includes wasmtime, the other tests in this binary and the guest's memory)
/// stays far below the body size.
#[test]
fn one_gibibyte_streams_with_bounded_memory() {
    // The closed form of the zeros' hash, checked against the real hasher once.
    let zeros = vec![0u8; 100_003];
    assert_eq!(fnv_of_zeros(zeros.len() as u64).0, Fnv1a64::of(&zeros).0);

    let nginx = Nginx::start();
    for scheme in BOTH {
        let out = get(&nginx, scheme, Nginx::SPARSE_PATH, &["--discard"]);
        out.assert_status(200)
            .assert_body_digest(SPARSE_LEN, fnv_of_zeros(SPARSE_LEN));
    }
    let peak = peak_rss();
    eprintln!("peak RSS after streaming: {} MiB", peak >> 20);
    assert!(
        peak < SPARSE_LEN / 4,
        "peak RSS {} MiB while streaming 1 GiB: the body is being buffered",
        peak >> 20
    );
}

/// GET over a plain socket with `Connection: close`; returns everything received.
fn raw_get(nginx: &Nginx, path: &str, extra: &[&str]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", nginx.http_port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for h in extra {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    all
}

fn split_head(raw: &[u8]) -> (String, &[u8]) {
    let end = e2e::server::find(raw, b"\r\n\r\n").expect("a complete head") + 4;
    (
        String::from_utf8_lossy(&raw[..end]).into_owned(),
        &raw[end..],
    )
}

/// A minimal chunked decoder (sizes, optional extensions, no trailers), as the test's oracle.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut line = String::new();
        let mut reader = BufReader::new(body);
        reader.read_line(&mut line).unwrap();
        let consumed = line.len();
        let size_text = line.trim_end().split(';').next().unwrap();
        let size = usize::from_str_radix(size_text, 16).unwrap();
        body = &body[consumed..];
        if size == 0 {
            assert_eq!(body, b"\r\n", "unexpected trailer section");
            return out;
        }
        out.extend_from_slice(&body[..size]);
        assert_eq!(&body[size..size + 2], b"\r\n");
        body = &body[size + 2..];
    }
}
