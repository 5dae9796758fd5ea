//! The egress proxy (`abi.md`, "Egress proxy"), against a real proxy (tinyproxy, required
//! like nginx: see `.ci/run`) and, for the failures a real proxy does not produce on demand, a
//! scripted fake proxy (`TestServer::scripted`).
//!
//! What is proven from the proxy's side (its log) and the origin's (nginx's access log, the
//! test servers' records): `https` goes through `CONNECT` with TLS to the origin, `http` in
//! absolute-form; credentials come from the embedder; a target the allow-list denies never
//! reaches the proxy; tunnels are reused per (proxy, origin); every proxy failure has its code.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] fns: a panic is a failed test"
)]

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use e2e::abi::{Proxy as Guest, assert_code, code, name};
use e2e::ctx_builder;
use e2e::nginx::Nginx;
use e2e::proxy::Tinyproxy;
use e2e::server::{Reply, TestServer};
use e2e::tls::TestCa;
use serde_json::Value;
use wasi_experimental_http_host::{ErrorCode, Event, HttpCtx, HttpCtxBuilder};

/// Secrets the tests configure; no host log line may contain one.
const SECRETS: [&str; 4] = [
    "s3cret-pw",
    "YWxpY2U6czNjcmV0LXB3", // base64("alice:s3cret-pw")
    "open sesame",
    "QWxhZGRpbjpvcGVuIHNlc2FtZQ==", // base64("Aladdin:open sesame")
];

/// Watches every log line of the host (at debug level) for [`SECRETS`]; keeps the ones that
/// leak, and counts the lines seen so a test knows the logger was listening.
struct LeakWatch {
    seen: std::sync::atomic::AtomicUsize,
    leaks: Mutex<Vec<String>>,
}

static LEAK_WATCH: LeakWatch = LeakWatch {
    seen: std::sync::atomic::AtomicUsize::new(0),
    leaks: Mutex::new(Vec::new()),
};

impl log::Log for LeakWatch {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = record.args().to_string();
        self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if SECRETS.iter().any(|s| line.contains(s)) {
            self.leaks.lock().unwrap().push(line);
        }
    }

    fn flush(&self) {}
}

/// Installs [`LEAK_WATCH`] (once per test binary) and returns the lines seen so far.
fn watch_logs() -> usize {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        if log::set_logger(&LEAK_WATCH).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    });
    LEAK_WATCH.seen.load(std::sync::atomic::Ordering::Relaxed)
}

/// Asserts the host logged since `before` (so the watch was on) and leaked no secret.
#[track_caller]
fn assert_no_leaked_secret(before: usize) {
    let seen = LEAK_WATCH.seen.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        seen > before,
        "the host logged nothing: is the watch installed?"
    );
    let leaks = LEAK_WATCH.leaks.lock().unwrap();
    assert!(leaks.is_empty(), "secrets in log lines: {leaks:#?}");
}

/// The audit events of a context, as JSON.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<String>>>);

impl Events {
    fn observe(&self, builder: HttpCtxBuilder) -> HttpCtxBuilder {
        let seen = self.0.clone();
        builder.on_event(move |e: &Event<'_>| seen.lock().unwrap().push(e.to_json()))
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn json(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// A builder admitting `origins`, trusting only nginx's CA (and `extra` PEMs).
fn trusting(nginx: &Nginx, origins: &[String], extra: &[&[u8]]) -> HttpCtxBuilder {
    let mut b = ctx_builder(origins)
        .add_root_certificates_pem(nginx.ca_pem().as_bytes())
        .unwrap()
        .only_custom_roots(true);
    for pem in extra {
        b = b.add_root_certificates_pem(pem).unwrap();
    }
    b
}

/// `GET url` that must succeed; the status and the whole body.
#[track_caller]
fn fetch(guest: &mut Guest, url: &str) -> (u16, Vec<u8>) {
    let (status, handle) = guest.get(url);
    let body = guest
        .read_body(handle)
        .unwrap_or_else(|(c, _)| panic!("body of {url}: {}", name(c)));
    assert_eq!(guest.close(handle), 0);
    (status, body)
}

/// `GET url` that must fail; the code.
#[track_caller]
fn refused(guest: &mut Guest, url: &str) -> i32 {
    match guest.req(url, "GET", "", b"") {
        Ok((status, _)) => panic!("GET {url} succeeded with {status}"),
        Err(c) => c,
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn https_goes_through_connect_with_tls_to_the_origin() {
    let nginx = Nginx::start();
    let proxy = Tinyproxy::start();
    let events = Events::default();
    let builder = trusting(&nginx, &[nginx.https_origin()], &[]).proxy(proxy.url());
    let mut guest = Guest::new(events.observe(builder).build().unwrap());

    let url = format!("{}{}", nginx.https_origin(), Nginx::STATIC_PATH);
    let (status, body) = fetch(&mut guest, &url);
    assert_eq!(status, 200);
    assert_eq!(body, nginx.file_bytes(Nginx::STATIC_PATH));

    // The proxy heard of a tunnel only; nginx served the request over TLS, so the TLS session
    // was the host's with nginx (verified against nginx's certificate), not with the proxy.
    assert_eq!(
        proxy.wait_requests(1),
        [format!("CONNECT 127.0.0.1:{} HTTP/1.1", nginx.https_port())],
        "{}",
        proxy.log()
    );
    let log = nginx.wait_access_log(1);
    assert_eq!(
        (log[0].scheme.as_str(), log[0].uri.as_str()),
        ("https", Nginx::STATIC_PATH)
    );

    let e = &events.json()[0];
    assert_eq!(e["event"], "completed");
    assert_eq!(e["proxy"], proxy.url());
    assert_eq!(e["status"], 200);
    assert!(e["proxy_status"].is_null());
    assert!(e["tls_us"].is_u64() && e["connect_us"].is_u64());
}

#[test]
fn http_goes_to_the_proxy_in_absolute_form() {
    let nginx = Nginx::start();
    let proxy = Tinyproxy::start();
    let events = Events::default();
    let builder = trusting(&nginx, &[nginx.http_origin()], &[]).proxy(proxy.url());
    let mut guest = Guest::new(events.observe(builder).build().unwrap());

    let url = format!("{}{}?q=1", nginx.http_origin(), Nginx::STATIC_PATH);
    let (status, body) = fetch(&mut guest, &url);
    assert_eq!(status, 200);
    assert_eq!(body, nginx.file_bytes(Nginx::STATIC_PATH));
    assert_eq!(
        proxy.wait_requests(1),
        [format!("GET {url} HTTP/1.1")],
        "{}",
        proxy.log()
    );
    let log = nginx.wait_access_log(1);
    assert_eq!(log[0].uri, format!("{}?q=1", Nginx::STATIC_PATH));
    // The event shows the path (no query), as for a direct request.
    let e = &events.json()[0];
    assert_eq!(e["path"], Nginx::STATIC_PATH);
    assert_eq!(e["proxy"], proxy.url());
}

#[test]
fn proxy_credentials_accepted_and_rejected() {
    let logged = watch_logs();
    let nginx = Nginx::start();
    let proxy = Tinyproxy::start_with_auth(Some(("alice", "s3cret-pw")));
    let origins = [nginx.http_origin(), nginx.https_origin()];
    let urls = origins
        .clone()
        .map(|o| format!("{o}{}", Nginx::STATIC_PATH));

    let events = Events::default();
    let good = trusting(&nginx, &origins, &[]).proxy(proxy.url_with("alice", "s3cret-pw"));
    let ctx = events.observe(good).build().unwrap();
    assert!(!format!("{ctx:?}").contains("s3cret"), "{ctx:?}");
    let mut guest = Guest::new(ctx);
    for url in &urls {
        assert_eq!(fetch(&mut guest, url).0, 200, "{url}");
    }

    // No credentials: 407, to CONNECT and to an absolute-form request alike.
    let none = trusting(&nginx, &origins, &[]).proxy(proxy.url());
    let mut guest = Guest::new(events.observe(none).build().unwrap());
    for url in &urls {
        assert_code(refused(&mut guest, url), ErrorCode::ProxyAuthRequired, url);
    }
    // Wrong credentials: tinyproxy 1.11 answers 401 (not 407). To CONNECT that can only be the
    // proxy's; to an absolute-form request it cannot be told from the origin's 401, and is
    // the response (abi.md, "Egress proxy").
    let wrong = trusting(&nginx, &origins, &[]).proxy(proxy.url_with("alice", "wrong-pw"));
    let mut guest = Guest::new(events.observe(wrong).build().unwrap());
    let (status, handle) = guest.get(&urls[0]);
    assert_eq!(status, 401, "http, wrong credentials");
    assert_eq!(guest.close(handle), 0);
    assert_code(
        refused(&mut guest, &urls[1]),
        ErrorCode::ProxyAuthRequired,
        "https, wrong",
    );
    assert_eq!(
        nginx.wait_access_log(2).len(),
        2,
        "only the good credentials got through"
    );

    let all = events.json();
    assert_eq!(all.len(), 6);
    for (e, status) in all[2..].iter().zip([407, 407, 401, 401]) {
        assert_eq!(e["proxy"], proxy.url());
        if e["status"] == 401 {
            assert_eq!(e["code_name"], "success", "{e}");
            continue;
        }
        assert_eq!(e["code_name"], "proxy_auth_required", "{e}");
        assert_eq!(e["proxy_status"], status, "{e}");
        assert!(e["status"].is_null());
    }
    // The secret and its Basic encoding are in no event.
    let secret_b64 = "YWxpY2U6czNjcmV0LXB3"; // base64("alice:s3cret-pw")
    for line in events.lines() {
        assert!(
            !line.contains("s3cret") && !line.contains(secret_b64),
            "{line}"
        );
    }
    assert_no_leaked_secret(logged);
}

#[test]
fn the_proxy_never_hears_of_a_denied_target() {
    let nginx = Nginx::start();
    let proxy = Tinyproxy::start();
    let mut guest = Guest::new(
        trusting(&nginx, &[nginx.http_origin()], &[])
            .proxy(proxy.url())
            .build()
            .unwrap(),
    );
    for url in [
        format!("{}/denied", nginx.https_origin()),
        "http://denied.example/".to_owned(),
        format!("http://127.0.0.1:{}/denied", closed_port()),
    ] {
        assert_code(
            refused(&mut guest, &url),
            ErrorCode::DestinationNotAllowed,
            &url,
        );
    }
    // A guest cannot talk to the proxy itself.
    let url = format!("{}/x", nginx.http_origin());
    let c = guest
        .req(&url, "GET", "Proxy-Authorization: Basic eDp5\n", b"")
        .unwrap_err();
    assert_code(c, ErrorCode::ForbiddenHeader, "guest's Proxy-Authorization");
    // One allowed request, so that the log is known to work.
    let allowed = format!("{}{}", nginx.http_origin(), Nginx::STATIC_PATH);
    assert_eq!(fetch(&mut guest, &allowed).0, 200);
    let heard = proxy.wait_requests(1);
    thread::sleep(Duration::from_millis(200));
    assert_eq!(heard, proxy.requests());
    assert_eq!(
        heard,
        [format!("GET {allowed} HTTP/1.1")],
        "{}",
        proxy.log()
    );
}

/// An IP-literal target is checked by the address policy as without a proxy, before the
/// proxy hears of it; a name is the proxy's to resolve.
#[test]
fn an_internal_ip_literal_target_is_refused_before_the_proxy() {
    let proxy = Tinyproxy::start();
    let mut guest = Guest::new(
        ctx_builder(["insecure:allow-all"])
            .proxy(proxy.url())
            .build()
            .unwrap(),
    );
    for url in [
        "http://10.255.255.1/",
        "https://127.0.0.1:9/",
        "http://[::1]:9/",
    ] {
        assert_code(
            refused(&mut guest, url),
            ErrorCode::DestinationIpProhibited,
            url,
        );
    }
    thread::sleep(Duration::from_millis(200));
    assert!(proxy.requests().is_empty(), "{}", proxy.log());
}

#[test]
fn tunnels_are_reused_per_origin() {
    let nginx = Nginx::start();
    let proxy = Tinyproxy::start();
    let ca = TestCa::new();
    let other = TestServer::echo_tls(ca.localhost_config());
    let origins = [nginx.https_origin(), other.origin()];
    let ctx = trusting(&nginx, &origins, &[ca.pem()])
        .proxy(proxy.url())
        .build()
        .unwrap();
    let mut guest = Guest::new(ctx);
    let first = format!("{}{}", nginx.https_origin(), Nginx::STATIC_PATH);
    for url in [&first, &first, &other.url("/a"), &first, &other.url("/b")] {
        assert_eq!(fetch(&mut guest, url).0, 200, "{url}");
    }
    assert_eq!(guest.ctx().idle_connections(), 2);
    // One tunnel per origin: nginx served its three requests on one connection, the other
    // server accepted one connection, and the proxy was asked twice.
    let log = nginx.wait_access_log(3);
    assert!(
        log.iter().enumerate().all(
            |(i, e)| e.connection == log[0].connection && e.connection_requests == i as u64 + 1
        ),
        "{log:#?}"
    );
    assert_eq!(other.accepted(), 1);
    let mut heard = proxy.wait_requests(2);
    heard.sort();
    let mut want = [nginx.https_port(), other.port()]
        .map(|p| format!("CONNECT 127.0.0.1:{p} HTTP/1.1"))
        .to_vec();
    want.sort();
    assert_eq!(heard, want, "{}", proxy.log());
}

#[test]
fn no_proxy_targets_go_direct() {
    let nginx = Nginx::start();
    let proxy = Tinyproxy::start();
    let events = Events::default();
    let builder = trusting(&nginx, &[nginx.https_origin()], &[])
        .proxy(proxy.url())
        .no_proxy(["127.0.0.0/8"]);
    let mut guest = Guest::new(events.observe(builder).build().unwrap());
    let url = format!("{}{}", nginx.https_origin(), Nginx::STATIC_PATH);
    assert_eq!(fetch(&mut guest, &url).0, 200);
    assert_eq!(nginx.wait_access_log(1).len(), 1);
    thread::sleep(Duration::from_millis(200));
    assert!(proxy.requests().is_empty(), "{}", proxy.log());
    assert!(events.json()[0]["proxy"].is_null());
}

/// A fake proxy answering the first request with `reply`, and a context sending `https` (and
/// `http`) to 127.0.0.1:9 through it.
fn with_fake(
    reply: Reply,
    proxy_url: impl FnOnce(&TestServer) -> String,
) -> (TestServer, Guest, Events) {
    let fake = TestServer::scripted(vec![reply]);
    let events = Events::default();
    let builder =
        ctx_builder(["https://127.0.0.1:9", "http://127.0.0.1:9"]).proxy(proxy_url(&fake));
    let guest = Guest::new(events.observe(builder).build().unwrap());
    (fake, guest, events)
}

fn plain(fake: &TestServer) -> String {
    format!("http://127.0.0.1:{}", fake.port())
}

#[test]
fn each_proxy_failure_has_its_code() {
    let cases: &[(&str, Reply, ErrorCode)] = &[
        (
            "403",
            Reply::raw_then_close("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
            ErrorCode::ProxyTunnelRefused,
        ),
        (
            "502 with a body",
            Reply::raw_then_close("HTTP/1.0 502 Bad Gateway\r\n\r\nno route"),
            ErrorCode::ProxyTunnelRefused,
        ),
        (
            "407",
            Reply::raw_then_close(
                "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
            ),
            ErrorCode::ProxyAuthRequired,
        ),
        (
            "401 (tinyproxy's answer to wrong credentials)",
            Reply::raw_then_close("HTTP/1.0 401 Unauthorized\r\n\r\n"),
            ErrorCode::ProxyAuthRequired,
        ),
        (
            "garbage",
            Reply::raw_then_close("SSH-2.0-OpenSSH\r\n\r\n"),
            ErrorCode::ProxyResponseMalformed,
        ),
        (
            "101",
            Reply::raw_then_close("HTTP/1.1 101 Switching Protocols\r\n\r\n"),
            ErrorCode::ProxyResponseMalformed,
        ),
        (
            "truncated head",
            Reply::raw_then_close("HTTP/1.1 200 Connection established\r\n"),
            ErrorCode::ProxyResponseMalformed,
        ),
        // After the empty line of a 2xx answer every byte is the origin's, through the
        // tunnel: a byte before the TLS handshake is 20, whether it came with the answer or
        // after it (abi.md, "Egress proxy", Which code).
        (
            "bytes with the 200",
            Reply::raw("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"),
            ErrorCode::TlsProtocolError,
        ),
        (
            "bytes after the 200",
            Reply::raw("HTTP/1.1 200 Connection established\r\n\r\n")
                .sleep(Duration::from_millis(200))
                .send("HTTP/1.1 200 OK\r\n\r\n"),
            ErrorCode::TlsProtocolError,
        ),
        (
            "hang-up",
            Reply::new().close(),
            ErrorCode::ProxyConnectionFailed,
        ),
    ];
    for (what, reply, want) in cases {
        let (fake, mut guest, events) = with_fake(reply.clone(), plain);
        let c = refused(&mut guest, "https://127.0.0.1:9/secret-path");
        assert_code(c, *want, what);
        let req = &fake.wait_requests(1)[0];
        assert_eq!(
            (req.method.as_str(), req.target.as_str()),
            ("CONNECT", "127.0.0.1:9")
        );
        assert_eq!(req.header("host"), Some("127.0.0.1:9"));
        let e = &events.json()[0];
        assert_eq!(
            (e["event"].as_str(), e["code"].as_u64()),
            (Some("completed"), Some(u64::from(want.code()))),
            "{what}: {e}"
        );
        assert_eq!(e["proxy"], plain(&fake), "{what}");
    }
    // The refused CONNECT's status is in the event.
    let (_fake, mut guest, events) = with_fake(
        Reply::raw_then_close("HTTP/1.1 403 Forbidden\r\n\r\n"),
        plain,
    );
    refused(&mut guest, "https://127.0.0.1:9/");
    assert_eq!(events.json()[0]["proxy_status"], 403);
    // Nothing listening where the proxy should be.
    let nowhere = format!("http://127.0.0.1:{}", closed_port());
    let mut guest = Guest::new(
        ctx_builder(["https://127.0.0.1:9"])
            .proxy(nowhere)
            .build()
            .unwrap(),
    );
    assert_code(
        refused(&mut guest, "https://127.0.0.1:9/"),
        ErrorCode::ProxyConnectionFailed,
        "nothing listening",
    );
}

/// abi.md "Egress proxy": the proxy's credentials are hop-by-hop. A proxy that did not ask for
/// them (tinyproxy without `BasicAuth`) may relay a plain `Proxy-Authorization` field to the
/// origin (RFC 9110 §11.7.2), where an echoing server would hand the embedder's proxy password
/// to the guest. `Connection: Proxy-Authorization` (RFC 9110 §7.6.1) makes the proxy drop it.
#[test]
fn proxy_credentials_never_reach_an_echoing_origin() {
    let logged = watch_logs();
    let proxy = Tinyproxy::start();
    let echo = TestServer::echo();
    let builder = ctx_builder([echo.origin()]).proxy(proxy.url_with("alice", "s3cret-pw"));
    let mut guest = Guest::new(builder.build().unwrap());
    for path in ["/a", "/b"] {
        let (status, body) = fetch(&mut guest, &echo.url(path));
        assert_eq!(status, 200);
        let body = String::from_utf8_lossy(&body).into_owned();
        assert!(body.starts_with("GET "), "the origin's echo: {body}");
        assert!(
            !body.contains("YWxpY2U6czNjcmV0LXB3") && !body.contains("s3cret"),
            "the proxy's credentials reached the origin and the guest: {body}"
        );
    }
    assert_eq!(proxy.wait_requests(2).len(), 2, "{}", proxy.log());
    for req in echo.wait_requests(2) {
        assert_eq!(req.header("proxy-authorization"), None, "{}", req.head());
    }
    assert_no_leaked_secret(logged);
}

/// A proxy that resets the connection: before any byte of its answer to `CONNECT` it could
/// not be used (38); after part of the answer, the answer is truncated (41), as when it closes
/// there (abi.md, "Egress proxy", Which code).
#[cfg(target_os = "linux")]
#[test]
fn a_proxy_reset_is_38_before_its_answer_and_41_inside_it() {
    use std::io::{Read, Write};
    for (sent, want) in [
        (&b""[..], ErrorCode::ProxyConnectionFailed),
        (
            &b"HTTP/1.1 200 Connection"[..],
            ErrorCode::ProxyResponseMalformed,
        ),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            s.write_all(sent).unwrap();
            s.flush().unwrap();
            // Time for the answer's bytes to reach the host before the reset.
            thread::sleep(Duration::from_millis(200));
            rustix::net::sockopt::set_socket_linger(&s, Some(Duration::ZERO)).unwrap();
            drop(s);
        });
        let mut guest = Guest::new(
            ctx_builder(["https://127.0.0.1:9"])
                .proxy(format!("http://127.0.0.1:{port}"))
                .build()
                .unwrap(),
        );
        let c = refused(&mut guest, "https://127.0.0.1:9/");
        assert_code(c, want, &format!("reset after {sent:?}"));
        server.join().unwrap();
    }
}

#[test]
fn credentials_and_absolute_form_on_the_wire() {
    let logged = watch_logs();
    let (fake, mut guest, _) = with_fake(
        Reply::raw_then_close("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"),
        |f| format!("http://Aladdin:open%20sesame@127.0.0.1:{}", f.port()),
    );
    let c = refused(&mut guest, "http://127.0.0.1:9/a?b");
    assert_code(c, ErrorCode::ProxyAuthRequired, "407 to absolute-form");
    let req = &fake.wait_requests(1)[0];
    assert_eq!(req.target, "http://127.0.0.1:9/a?b");
    assert_eq!(req.header("host"), Some("127.0.0.1:9"));
    // RFC 7617 §2's example.
    assert_eq!(
        req.header("proxy-authorization"),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    // Hop-by-hop, so a proxy that does not consume them drops them (RFC 9110 §7.6.1).
    assert_eq!(req.header("connection"), Some("Proxy-Authorization"));
    assert!(
        req.head()
            .starts_with("GET http://127.0.0.1:9/a?b HTTP/1.1\r\nHost: 127.0.0.1:9\r\n")
    );

    let (fake, mut guest, _) = with_fake(
        Reply::raw_then_close("HTTP/1.1 403 Forbidden\r\n\r\n"),
        |f| format!("http://Aladdin:open%20sesame@127.0.0.1:{}", f.port()),
    );
    refused(&mut guest, "https://127.0.0.1:9/");
    assert_eq!(
        fake.wait_requests(1)[0].head(),
        "CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\
         Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
    );
    assert_no_leaked_secret(logged);
}

#[test]
fn a_stalled_connect_is_interrupted_and_timed() {
    // The interrupt ends the wait for the answer within a slice.
    let (_fake, mut guest, _) = with_fake(Reply::new().sleep(Duration::from_secs(30)), plain);
    let handle = guest.ctx().interrupt_handle();
    let interrupter = thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        let at = Instant::now();
        handle.interrupt();
        at
    });
    let c = refused(&mut guest, "https://127.0.0.1:9/");
    let latency = interrupter.join().unwrap().elapsed();
    assert_code(c, ErrorCode::Interrupted, "stalled CONNECT");
    assert!(
        latency < Duration::from_millis(500),
        "returned {latency:?} after the interrupt"
    );

    // The response-header timeout bounds it too (armed when the proxy accepted the
    // connection).
    let fake_proxy = TestServer::scripted(vec![Reply::new().sleep(Duration::from_secs(30))]);
    let mut timeouts = e2e::test_timeouts();
    timeouts.response_header = Duration::from_millis(300);
    let mut guest = Guest::new(
        ctx_builder(["https://127.0.0.1:9"])
            .timeouts(timeouts)
            .proxy(plain(&fake_proxy))
            .build()
            .unwrap(),
    );
    let began = Instant::now();
    let c = refused(&mut guest, "https://127.0.0.1:9/");
    assert_code(c, ErrorCode::ResponseHeaderTimeout, "stalled CONNECT");
    assert!(began.elapsed() < Duration::from_secs(5));
}

/// The address policy applies to the proxy's own address: a proxy named by a name that
/// resolves to a loopback address needs `proxy_allow_internal`.
#[test]
fn an_internal_proxy_by_name_needs_the_opt_in() {
    let fake_proxy = TestServer::scripted(vec![Reply::raw_then_close(
        "HTTP/1.1 403 Forbidden\r\n\r\n",
    )]);
    let resolver = |host: &str, port: u16| -> std::io::Result<Vec<SocketAddr>> {
        assert_eq!(host, "proxy.test", "only the proxy's name is resolved");
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
    };
    let url = format!("http://proxy.test:{}", fake_proxy.port());
    let events = Events::default();
    let builder = ctx_builder(["https://example.com"])
        .resolver(resolver)
        .proxy(url.as_str());
    let mut guest = Guest::new(events.observe(builder).build().unwrap());
    let c = refused(&mut guest, "https://example.com/");
    assert_code(
        c,
        ErrorCode::ProxyConnectionFailed,
        "internal proxy, no opt-in",
    );
    fake_proxy.assert_untouched();
    let e = &events.json()[0];
    assert_eq!(
        (e["event"].as_str(), e["reason"].as_str()),
        (Some("denied"), Some("address"))
    );
    assert_eq!(e["address"], "127.0.0.1");
    assert_eq!(e["code"], code(ErrorCode::ProxyConnectionFailed));

    let mut guest = Guest::new(
        ctx_builder(["https://example.com"])
            .resolver(resolver)
            .proxy(url)
            .proxy_allow_internal(true)
            .build()
            .unwrap(),
    );
    let c = refused(&mut guest, "https://example.com/");
    assert_code(c, ErrorCode::ProxyTunnelRefused, "internal proxy, opted in");
    assert_eq!(fake_proxy.wait_requests(1)[0].target, "example.com:443");
}

#[test]
fn proxy_configuration_errors() {
    let build = |b: HttpCtxBuilder| b.build().map(|_| ()).unwrap_err().to_string();
    let e = build(HttpCtx::builder().proxy("https://u:hunter2@proxy.example:3128"));
    assert!(
        e.contains("https://***@proxy.example:3128") && e.contains("not supported"),
        "{e}"
    );
    let e = build(HttpCtx::builder().proxy("http://u:hunter2@proxy.example"));
    assert!(e.contains("port") && !e.contains("hunter2"), "{e}");
    let e = build(HttpCtx::builder().no_proxy(["example.com"]));
    assert!(e.contains("no proxy"), "{e}");
    let e = build(
        HttpCtx::builder()
            .proxy("http://proxy.example:3128")
            .no_proxy(["example.com:443"]),
    );
    assert!(e.contains("example.com:443"), "{e}");
    let debug = format!(
        "{:?}",
        HttpCtx::builder().proxy("http://u:hunter2@p.example:1")
    );
    assert!(!debug.contains("hunter2"), "{debug}");
}

/// What a proxy on the path of an `https` request sees: the `CONNECT` head, then ciphertext.
/// Neither the path, nor a header value, nor the body crosses it in clear.
#[test]
fn the_proxy_sees_no_plaintext_of_an_https_request() {
    let ca = TestCa::new();
    let origin = TestServer::echo_tls(ca.localhost_config());
    let relay = e2e::proxy::RecordingRelay::start();
    let mut guest = Guest::new(
        ctx_builder([origin.origin()])
            .add_root_certificates_pem(ca.pem())
            .unwrap()
            .only_custom_roots(true)
            .proxy(relay.url())
            .build()
            .unwrap(),
    );
    let url = origin.url("/very-private-path?token=PATH-SECRET");
    let (status, handle) = guest
        .req(&url, "POST", "X-Api-Key: HEADER-SECRET\n", b"BODY-SECRET")
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(guest.read_body(handle).unwrap(), b"BODY-SECRET");
    let got = &origin.wait_requests(1)[0];
    assert_eq!(got.header("x-api-key"), Some("HEADER-SECRET"));

    let seen = relay.seen();
    let text = String::from_utf8_lossy(&seen);
    let connect = format!(
        "CONNECT 127.0.0.1:{0} HTTP/1.1\r\nHost: 127.0.0.1:{0}\r\n\r\n",
        origin.port()
    );
    assert!(text.starts_with(&connect), "{text:?}");
    assert!(
        seen.len() > connect.len() + 100,
        "the TLS session went through the relay"
    );
    for secret in [
        "very-private-path",
        "PATH-SECRET",
        "HEADER-SECRET",
        "X-Api-Key",
        "BODY-SECRET",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} crossed the proxy in clear"
        );
    }
}

#[test]
fn a_client_certificate_goes_through_the_tunnel_to_its_origin() {
    // The identity bound to the origin is presented inside the CONNECT tunnel, as on a direct
    // connection (the proxy path picks the origin's TLS configuration too).
    let ca = TestCa::new();
    let clients = TestCa::new();
    let (cert, key) = clients.client_identity("guest-client");
    let ok = || Reply::raw("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    let strict = TestServer::scripted_tls(
        vec![ok()],
        ca.localhost_config_with_client_auth(&clients, false),
    );
    let origin = format!("https://127.0.0.1:{}", strict.port());
    let proxy = Tinyproxy::start();
    let with_identity = ctx_builder([origin.clone()])
        .add_root_certificates_pem(ca.pem())
        .unwrap()
        .client_certificate(origin.clone(), cert, key)
        .proxy(proxy.url())
        .build()
        .unwrap();
    let mut guest = Guest::new(with_identity);
    let (status, body) = fetch(&mut guest, &format!("{origin}/mtls"));
    assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
    assert!(strict.wait_tls_handshakes(1)[0].client_certificate);
    assert_eq!(
        proxy.wait_requests(1),
        [format!("CONNECT 127.0.0.1:{} HTTP/1.1", strict.port())]
    );

    // Without the identity the same tunnel leads to a refused handshake.
    let without = ctx_builder([origin.clone()])
        .add_root_certificates_pem(ca.pem())
        .unwrap()
        .proxy(proxy.url())
        .build()
        .unwrap();
    let mut guest = Guest::new(without);
    let c = refused(&mut guest, &format!("{origin}/mtls"));
    assert!(
        c == code(ErrorCode::TlsProtocolError) || c == code(ErrorCode::ConnectionTerminated),
        "got {}",
        name(c)
    );
}
