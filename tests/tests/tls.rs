//! HTTPS: certificate verification against embedder-supplied roots, host names and IP SANs,
//! no plaintext fallback, and what the ClientHello offers (SNI, ALPN, versions) as the server
//! observed it; then servers misbehaving below HTTP (dripped TLS records against the deadlines,
//! a TCP close without close_notify, names rustls cannot verify). The CA and leaves are
//! generated per run (e2e::tls).

// clippy.toml allows these inside #[test] only; the helpers here need them too.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] (servers, fixtures, parsers) panic on failure"
)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use e2e::abi::{Proxy, assert_code, name};
use e2e::guests::guest_wasm;
use e2e::run::run_guest;
use e2e::server::{TestServer, TlsHandshake};
use e2e::tls::{LOCAL_NAMES, TestCa, self_signed_config};
use e2e::{ctx_builder, loopback_only_resolver, test_timeouts};
use rustls::ProtocolVersion;
use rustls::version::{TLS12, TLS13};
use wasi_experimental_http_host::{
    AddressPolicy, ErrorCode as E, HttpCtx, HttpCtxBuilder, Timeouts,
};

/// Maps every name to 127.0.0.1 so `localhost` (and `wrong.example`) need no system resolver.
fn loopback_resolver(b: HttpCtxBuilder) -> HttpCtxBuilder {
    b.resolver(|_, port| Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]))
}

/// A context trusting only `ca` and admitting `origin`.
fn proxy_ctx(ca: &TestCa, origin: &str) -> HttpCtx {
    loopback_resolver(ctx_builder([origin]))
        .add_root_certificates_pem(ca.pem())
        .unwrap()
        .only_custom_roots(true)
        .build()
        .unwrap()
}

/// A proxy trusting only `ca` and admitting `origin`.
fn proxy_trusting(ca: &TestCa, origin: &str) -> Proxy {
    Proxy::new(proxy_ctx(ca, origin))
}

fn get_body(p: &mut Proxy, url: &str) -> Result<(u16, String), i32> {
    let (status, h) = p.req(url, "GET", "", b"")?;
    let body = p.read_body(h).map_err(|(c, _)| c)?;
    assert_eq!(p.close(h), 0);
    Ok((status, String::from_utf8(body).unwrap()))
}

// abi.md "TLS": TLS verifies the server against the roots the embedder added; the
// request then travels inside TLS unchanged.
#[test]
fn https_with_added_root_verifies_host_name() {
    let ca = TestCa::new();
    let server = TestServer::echo_tls(ca.localhost_config());
    let origin = format!("https://localhost:{}", server.port());
    let mut p = proxy_trusting(&ca, &origin);
    let (status, body) = get_body(&mut p, &format!("{origin}/tls?x=1"))
        .unwrap_or_else(|c| panic!("HTTPS GET failed: {}", name(c)));
    assert_eq!(status, 200);
    assert!(body.starts_with("GET /tls?x=1\n"), "{body}");
    let r = server.wait_requests(1);
    assert_eq!(
        r[0].header_all("host"),
        [format!("localhost:{}", server.port())]
    );
}

// RFC 6125 / RFC 9110 4.3.4: an IP-literal URL is verified against the certificate's IP SAN
// (no SNI is sent for it).
#[test]
fn https_to_ipv4_literal_verifies_ip_san() {
    let ca = TestCa::new();
    let server = TestServer::echo_tls(ca.localhost_config());
    let mut p = proxy_trusting(&ca, &server.origin());
    let (status, body) = get_body(&mut p, &server.url("/ip"))
        .unwrap_or_else(|c| panic!("HTTPS GET to 127.0.0.1 failed: {}", name(c)));
    assert_eq!(status, 200);
    assert!(body.starts_with("GET /ip\n"), "{body}");
}

// Same for an IPv6 literal, when the machine has ::1.
#[test]
fn https_to_ipv6_literal_verifies_ip_san() {
    let ca = TestCa::new();
    let Ok(server) = TestServer::echo_tls_at("[::1]:0", ca.localhost_config()) else {
        eprintln!("no IPv6 loopback on this machine; skipped");
        return;
    };
    let origin = server.origin();
    assert!(origin.starts_with("https://[::1]:"), "{origin}");
    let mut p = proxy_trusting(&ca, &origin);
    let (status, _) = get_body(&mut p, &server.url("/v6"))
        .unwrap_or_else(|c| panic!("HTTPS GET to [::1] failed: {}", name(c)));
    assert_eq!(status, 200);
}

// A self-signed certificate nobody trusts is tls_certificate_error (19), and no request
// byte reaches the server.
#[test]
fn untrusted_self_signed_certificate_is_tls_certificate_error() {
    let ca = TestCa::new();
    let server = TestServer::echo_tls(self_signed_config(LOCAL_NAMES));
    let origin = format!("https://localhost:{}", server.port());
    let mut p = proxy_trusting(&ca, &origin);
    let c = p.req(&format!("{origin}/"), "GET", "", b"").unwrap_err();
    assert_code(c, E::TlsCertificateError, "self-signed leaf");
    assert!(
        server.requests().is_empty(),
        "a request was sent over an unverified connection"
    );
}

// A certificate from a trusted CA but for another name is tls_certificate_error (19).
#[test]
fn certificate_for_another_name_is_tls_certificate_error() {
    let ca = TestCa::new();
    let server = TestServer::echo_tls(ca.server_config(&["wrong.example"]));
    let origin = format!("https://localhost:{}", server.port());
    let mut p = proxy_trusting(&ca, &origin);
    let c = p.req(&format!("{origin}/"), "GET", "", b"").unwrap_err();
    assert_code(
        c,
        E::TlsCertificateError,
        "leaf for wrong.example, URL localhost",
    );
    // Likewise for an IP URL when the leaf has no IP SAN.
    let mut p = proxy_trusting(&ca, &server.origin());
    let c = p.req(&server.url("/"), "GET", "", b"").unwrap_err();
    assert_code(
        c,
        E::TlsCertificateError,
        "leaf for wrong.example, URL 127.0.0.1",
    );
    assert!(server.requests().is_empty());
}

// The default trust store (webpki-roots) does not contain the test CA: without
// add_root_certificates_pem the same server is rejected.
#[test]
fn test_ca_is_not_trusted_unless_added() {
    let ca = TestCa::new();
    let server = TestServer::echo_tls(ca.localhost_config());
    let ctx = loopback_resolver(ctx_builder([server.origin()]))
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    let c = p.req(&server.url("/"), "GET", "", b"").unwrap_err();
    assert_code(c, E::TlsCertificateError, "CA not added");
}

// abi.md "TLS": https:// means TLS or nothing ("There is no fallback"). A plaintext HTTP
// server (which answers the ClientHello with an HTTP 400) is tls_protocol_error (20), never a
// plaintext fallback.
#[test]
fn https_to_plain_http_server_is_tls_protocol_error() {
    let ca = TestCa::new();
    let server = TestServer::echo();
    let origin = format!("https://127.0.0.1:{}", server.port());
    let mut p = proxy_trusting(&ca, &origin);
    let c = p.req(&format!("{origin}/"), "GET", "", b"").unwrap_err();
    assert_code(c, E::TlsProtocolError, "https:// to a plain HTTP server");
    assert!(server.requests().is_empty(), "a plaintext request was sent");
}

// abi.md "TLS" (roots the embedder added): the embedder's PEM bundle must contain a
// certificate; garbage is a configuration error at construction, not a silent "trust nothing".
#[test]
fn root_pem_without_certificates_is_a_config_error() {
    assert!(
        e2e::ctx_builder(["https://localhost"])
            .add_root_certificates_pem(b"not a pem")
            .is_err()
    );
}

// ---------------------------------------------------------------------------------------------
// What the client offers, as the server saw it (abi.md "TLS": TLS 1.2 or 1.3 only, SNI with the
// normalized host name but never for an IP literal, ALPN `http/1.1` only).

/// The one handshake `server` recorded, which must have completed.
#[track_caller]
fn only_handshake(server: &TestServer) -> TlsHandshake {
    let all = server.wait_tls_handshakes(1);
    assert_eq!(all.len(), 1, "expected exactly one TLS handshake: {all:?}");
    let h = all.into_iter().next().unwrap();
    assert_eq!(h.error, None, "the server's handshake failed: {h:?}");
    h
}

// abi.md "TLS": for a host name the client sends SNI with that name, offers ALPN `http/1.1`,
// and (both sides allowing it) negotiates TLS 1.3.
#[test]
fn host_name_url_sends_sni_and_negotiates_http11_over_tls13() {
    let ca = TestCa::new();
    let server = TestServer::echo_tls(ca.localhost_config_with(&[&TLS13, &TLS12], &[b"http/1.1"]));
    let origin = format!("https://localhost:{}", server.port());
    let mut p = proxy_trusting(&ca, &origin);
    let (status, _) = get_body(&mut p, &format!("{origin}/sni"))
        .unwrap_or_else(|c| panic!("HTTPS GET failed: {}", name(c)));
    assert_eq!(status, 200);
    let h = only_handshake(&server);
    assert_eq!(h.sni.as_deref(), Some("localhost"));
    // The server insists on ALPN: a client offering nothing would have failed the handshake
    // (no_application_protocol), so negotiation proves `http/1.1` was offered.
    assert_eq!(h.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(h.version, Some(ProtocolVersion::TLSv1_3));
}

// abi.md "TLS": ALPN offers `http/1.1` *only*. A server preferring h2 picks h2 whenever the
// client offers it (rustls chooses the server's first protocol the client offered), so getting
// `http/1.1` here proves h2 was not offered.
#[test]
fn alpn_offers_only_http11() {
    let ca = TestCa::new();
    let server =
        TestServer::echo_tls(ca.localhost_config_with(&[&TLS13, &TLS12], &[b"h2", b"http/1.1"]));
    let origin = format!("https://localhost:{}", server.port());
    let mut p = proxy_trusting(&ca, &origin);
    let (status, _) = get_body(&mut p, &format!("{origin}/alpn"))
        .unwrap_or_else(|c| panic!("HTTPS GET failed: {}", name(c)));
    assert_eq!(status, 200);
    assert_eq!(
        only_handshake(&server).alpn.as_deref(),
        Some(&b"http/1.1"[..])
    );
}

// abi.md "TLS" (RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in
// HostName"): an IP-literal URL sends no SNI at all, yet still verifies against the IP SAN.
#[test]
fn ip_literal_url_sends_no_sni() {
    let ca = TestCa::new();
    let server = TestServer::echo_tls(ca.localhost_config_with(&[&TLS13, &TLS12], &[b"http/1.1"]));
    let origin = server.origin();
    assert!(origin.starts_with("https://127.0.0.1:"), "{origin}");
    let mut p = proxy_trusting(&ca, &origin);
    let (status, _) = get_body(&mut p, &server.url("/no-sni"))
        .unwrap_or_else(|c| panic!("HTTPS GET to 127.0.0.1 failed: {}", name(c)));
    assert_eq!(status, 200);
    let h = only_handshake(&server);
    assert_eq!(h.sni, None, "SNI sent for an IP literal: {h:?}");
    assert_eq!(h.alpn.as_deref(), Some(&b"http/1.1"[..]));
}

// abi.md "TLS": TLS 1.2 is accepted as well as 1.3. A server that only speaks 1.2 works, and
// the connection really is 1.2 (with ALPN negotiated the same way).
#[test]
fn tls12_only_server_works() {
    let ca = TestCa::new();
    let server = TestServer::echo_tls(ca.localhost_config_with(&[&TLS12], &[b"http/1.1"]));
    let origin = format!("https://localhost:{}", server.port());
    let mut p = proxy_trusting(&ca, &origin);
    let (status, body) = get_body(&mut p, &format!("{origin}/v12"))
        .unwrap_or_else(|c| panic!("HTTPS GET to a TLS 1.2 server failed: {}", name(c)));
    assert_eq!(status, 200);
    assert!(body.starts_with("GET /v12\n"), "{body}");
    let h = only_handshake(&server);
    assert_eq!(h.version, Some(ProtocolVersion::TLSv1_2));
    assert_eq!(h.sni.as_deref(), Some("localhost"));
    assert_eq!(h.alpn.as_deref(), Some(&b"http/1.1"[..]));
}

// abi.md "TLS": the chain is verified against "only the embedder's roots if it chose so".
// Built from a bare HttpCtx::builder() (not the suite's helper), trusting only the test CA
// works; asking for only custom roots without adding any is a configuration error at build(),
// not a context that silently trusts nothing (or everything).
#[test]
fn only_custom_roots_with_added_root_works_and_without_is_a_config_error() {
    let ca = TestCa::new();
    let server = TestServer::echo_tls(ca.localhost_config());
    let origin = format!("https://localhost:{}", server.port());
    let ctx = HttpCtx::builder()
        .allowed_hosts([origin.as_str()])
        .timeouts(test_timeouts())
        .resolver(loopback_only_resolver)
        .add_root_certificates_pem(ca.pem())
        .unwrap()
        .only_custom_roots(true)
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    let (status, _) = get_body(&mut p, &format!("{origin}/only-custom"))
        .unwrap_or_else(|c| panic!("HTTPS GET with only custom roots failed: {}", name(c)));
    assert_eq!(status, 200);

    let err = HttpCtx::builder()
        .allowed_hosts([origin.as_str()])
        .only_custom_roots(true)
        .build();
    assert!(
        err.is_err(),
        "only_custom_roots(true) with no root must not build"
    );
    // Turning it off again makes the same builder valid: the error is about the combination.
    assert!(
        HttpCtx::builder()
            .allowed_hosts([origin.as_str()])
            .only_custom_roots(true)
            .only_custom_roots(false)
            .build()
            .is_ok()
    );
}

// abi.md "TLS": the client offers `http/1.1` only; error codes table: an ALPN mismatch is
// tls_protocol_error (20). A server accepting only h2 refuses the handshake with a
// no_application_protocol alert (RFC 7301 §3.2), and no request is sent.
#[test]
fn server_requiring_h2_is_tls_protocol_error() {
    let ca = TestCa::new();
    let server = TestServer::echo_tls(ca.localhost_config_with(&[&TLS13, &TLS12], &[b"h2"]));
    let origin = format!("https://localhost:{}", server.port());
    let mut p = proxy_trusting(&ca, &origin);
    let c = p.req(&format!("{origin}/"), "GET", "", b"").unwrap_err();
    assert_code(c, E::TlsProtocolError, "server insists on h2");
    // The failure is the one we meant: the server saw our ClientHello and refused it for ALPN.
    let all = server.wait_tls_handshakes(1);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].sni.as_deref(), Some("localhost"));
    assert_eq!(all[0].error.as_deref(), Some("NoApplicationProtocol"));
    assert!(server.requests().is_empty(), "a request was sent anyway");

    // The same failure as a real guest sees it.
    let out = run_guest(
        &guest_wasm("tests/guests", "fetch"),
        proxy_ctx(&ca, &origin),
        &["GET", &format!("{origin}/guest")],
    );
    out.assert_error(E::TlsProtocolError, &["req"]);
    assert!(server.requests().is_empty(), "a request was sent anyway");
}

// ---------------------------------------------------------------------------------------------
// Servers that misbehave below HTTP: a TLS record dripped a byte at a time, a bare TCP close
// (no close_notify), a host name rustls cannot verify. TestServer always speaks TLS politely,
// so these use a raw listener.

/// Slack allowed on top of a timeout before a test calls it late (as production_timeouts.rs).
const MARGIN: Duration = Duration::from_secs(1);
/// How often a dripping server sends its next byte: far shorter than any budget below, so each
/// socket read the client makes succeeds quickly and only a deadline covering the whole TLS call
/// can stop it.
const DRIP_EVERY: Duration = Duration::from_millis(50);
/// How long a dripping server keeps going at most, so a host that never gives up still lets the
/// test finish (and fail on its elapsed-time assertion).
const DRIP_CAP: Duration = Duration::from_secs(8);

/// Budgets that never fire in these tests unless a test lowers one.
fn relaxed() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        response_header: Duration::from_secs(10),
        idle: Duration::from_secs(10),
        total: Duration::from_secs(10),
    }
}

/// A context trusting only `ca`, admitting `origin`, with `timeouts`.
fn ctx_with_timeouts(ca: &TestCa, origin: &str, timeouts: Timeouts) -> HttpCtx {
    loopback_resolver(ctx_builder([origin]))
        .timeouts(timeouts)
        .add_root_certificates_pem(ca.pem())
        .unwrap()
        .only_custom_roots(true)
        .build()
        .unwrap()
}

/// A server on 127.0.0.1 that runs `serve(i, socket)` for its first `conns` connections, one
/// after the other, in a background thread. Sockets time out after a few seconds and accepting
/// gives up after 10 s, so a host that misbehaves cannot hang the test.
fn raw_server(
    conns: usize,
    serve: impl Fn(usize, TcpStream) + Send + 'static,
) -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let worker = thread::spawn(move || {
        let give_up = Instant::now() + Duration::from_secs(10);
        let mut served = 0;
        while served < conns && Instant::now() < give_up {
            match listener.accept() {
                Ok((sock, _)) => {
                    sock.set_nonblocking(false).unwrap();
                    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    sock.set_write_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    sock.set_nodelay(true).unwrap();
                    serve(served, sock);
                    served += 1;
                }
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (port, worker)
}

/// The server side of a TLS connection; the handshake runs on first use.
type TlsStream = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

/// [`raw_server`] over TLS with `ca`'s `localhost` certificate: `serve(i, stream)` gets the
/// server side of each connection.
fn tls_server(
    ca: &TestCa,
    conns: usize,
    serve: impl Fn(usize, &mut TlsStream) + Send + 'static,
) -> (u16, thread::JoinHandle<()>) {
    let cfg = ca.localhost_config();
    raw_server(conns, move |i, sock| {
        let conn = rustls::ServerConnection::new(Arc::clone(&cfg)).unwrap();
        serve(i, &mut rustls::StreamOwned::new(conn, sock));
    })
}

/// Reads one request head (through the blank line) of decrypted bytes; what it got so far if
/// the peer stops first.
fn read_head(s: &mut impl Read) -> String {
    let mut got = Vec::new();
    let mut b = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&b[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Sends `bytes` one at a time, [`DRIP_EVERY`] apart, until done, the client hangs up, or
/// [`DRIP_CAP`] has passed.
fn drip(sock: &mut TcpStream, bytes: &[u8]) {
    let start = Instant::now();
    for b in bytes {
        if start.elapsed() > DRIP_CAP || sock.write_all(&[*b]).is_err() {
            return;
        }
        thread::sleep(DRIP_EVERY);
    }
}

/// The TLS records carrying `plain`, encrypted by `s` but not yet sent.
fn seal(s: &mut TlsStream, plain: &[u8]) -> Vec<u8> {
    s.conn.writer().write_all(plain).unwrap();
    let mut wire = Vec::new();
    while s.conn.wants_write() {
        s.conn.write_tls(&mut wire).unwrap();
    }
    wire
}

/// Asserts that a call failed with `want` within `budget` + [`MARGIN`] of `start`, and not
/// before `budget` (a deadline that fires early is as wrong as one that never fires).
#[track_caller]
fn assert_bounded(got: i32, want: E, start: Instant, budget: Duration) {
    let took = start.elapsed();
    assert_code(got, want, &format!("after {took:?}"));
    assert!(
        took < budget + MARGIN,
        "{want:?} after {took:?}: budget {budget:?} + margin {MARGIN:?}"
    );
    assert!(
        took + Duration::from_millis(50) >= budget,
        "{want:?} after {took:?}, before its {budget:?} budget"
    );
}

/// `req` to a server that answers the ClientHello with the header of a 16 KiB handshake record
/// and then drips the record; returns the code and when the call started.
fn req_against_dripped_handshake(timeouts: Timeouts) -> (i32, Instant) {
    let (port, server) = raw_server(1, |_, mut sock| {
        let mut hello = [0u8; 4096];
        let _ = sock.read(&mut hello);
        // ContentType handshake, TLS 1.2 record version, length 0x4000.
        if sock.write_all(&[0x16, 0x03, 0x03, 0x40, 0x00]).is_ok() {
            drip(&mut sock, &[0x02; 0x4000]);
        }
    });
    let ca = TestCa::new();
    let origin = format!("https://127.0.0.1:{port}");
    let mut p = Proxy::new(ctx_with_timeouts(&ca, &origin, timeouts));
    let start = Instant::now();
    let got = p.req(&format!("{origin}/"), "GET", "", b"").unwrap_err();
    drop(p);
    server.join().unwrap();
    (got, start)
}

// abi.md "Timeouts and limits": the overall deadline bounds *every* network wait of the
// request, the TLS handshake included (23, deadline_exceeded). rustls reads a whole record
// inside one call; a server dripping that record a byte per 50 ms must not stretch the call
// past the deadline: the call ends at the 1.5 s deadline, not after the server's 6 s.
#[test]
fn dripped_handshake_record_is_bounded_by_the_total_deadline() {
    let total = Duration::from_millis(1500);
    let (got, start) = req_against_dripped_handshake(Timeouts { total, ..relaxed() });
    assert_bounded(got, E::DeadlineExceeded, start, total);
}

// abi.md "Timeouts and limits": the response-header timeout runs from TCP connected, before the
// TLS handshake, to the end of the final head (21, response_header_timeout); a dripped
// handshake record must not extend it.
#[test]
fn dripped_handshake_record_is_bounded_by_the_response_header_timeout() {
    let header = Duration::from_millis(1000);
    let (got, start) = req_against_dripped_handshake(Timeouts {
        response_header: header,
        ..relaxed()
    });
    // The header clock starts at TCP connect, a little after `start`: never earlier.
    assert_bounded(got, E::ResponseHeaderTimeout, start, header);
}

// abi.md "Timeouts and limits" (response-header timeout, 21): the head arriving inside one TLS
// record dripped a byte at a time is bounded like a head dripped over plain TCP.
#[test]
fn dripped_response_head_record_is_bounded_by_the_response_header_timeout() {
    let ca = TestCa::new();
    let (port, server) = tls_server(&ca, 1, move |_, s| {
        read_head(s);
        let wire = seal(s, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        drip(&mut s.sock, &wire);
    });
    let origin = format!("https://127.0.0.1:{port}");
    let header = Duration::from_millis(1000);
    let mut p = Proxy::new(ctx_with_timeouts(
        &ca,
        &origin,
        Timeouts {
            response_header: header,
            ..relaxed()
        },
    ));
    let start = Instant::now();
    let got = p.req(&format!("{origin}/"), "GET", "", b"").unwrap_err();
    assert_bounded(got, E::ResponseHeaderTimeout, start, header);
    drop(p);
    server.join().unwrap();
}

// abi.md "Timeouts and limits": the overall deadline runs "from entry into req to the framed
// end", so it bounds body_read too (23). The head arrives at once; the body is one TLS record
// dripped a byte per 50 ms, which rustls would otherwise wait out inside one read (about
// 6.2 s with a 1.5 s deadline).
#[test]
fn dripped_body_record_is_bounded_by_the_total_deadline() {
    let ca = TestCa::new();
    let (port, server) = tls_server(&ca, 1, move |_, s| {
        read_head(s);
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            .unwrap();
        s.flush().unwrap();
        thread::sleep(Duration::from_millis(100));
        let wire = seal(s, &[b'x'; 100]);
        drip(&mut s.sock, &wire);
    });
    let origin = format!("https://127.0.0.1:{port}");
    let total = Duration::from_millis(1500);
    let mut p = Proxy::new(ctx_with_timeouts(
        &ca,
        &origin,
        Timeouts { total, ..relaxed() },
    ));
    let start = Instant::now();
    let (status, h) = p.get(&format!("{origin}/"));
    assert_eq!(status, 200);
    let (got, body) = p.read_body(h).unwrap_err();
    assert_bounded(got, E::DeadlineExceeded, start, total);
    // No byte of the record could be decrypted before its end arrived.
    assert!(
        body.is_empty(),
        "{} bytes of an incomplete record",
        body.len()
    );
    assert_code(p.body_read(h, 16).code, E::DeadlineExceeded, "sticky");
    assert_eq!(p.close(h), 0);
    drop(p);
    server.join().unwrap();
}

// abi.md error table, 18: "the peer closed ... before the first response byte arrived" is
// connection_terminated. Over TLS a TCP close without close_notify is how that looks (rustls
// reports it as an unexpected EOF); it is not a truncated response (24), since no response
// byte came.
#[test]
fn tls_close_without_close_notify_before_any_response_byte_is_connection_terminated() {
    let ca = TestCa::new();
    let (heads_tx, heads) = mpsc::channel();
    let (port, server) = tls_server(&ca, 1, move |_, s| {
        heads_tx.send(read_head(s)).unwrap();
        s.sock.shutdown(Shutdown::Both).unwrap();
    });
    let origin = format!("https://127.0.0.1:{port}");
    let mut p = proxy_trusting(&ca, &origin);
    let got = p.req(&format!("{origin}/eof"), "GET", "", b"").unwrap_err();
    assert_code(
        got,
        E::ConnectionTerminated,
        "bare TCP close after the request",
    );
    server.join().unwrap();
    // The close came after the handshake and the request, not during the handshake.
    assert!(heads.recv().unwrap().starts_with("GET /eof HTTP/1.1\r\n"));
}

/// A server whose first connection answers one request (keep-alive), reads a second and then
/// closes TCP without close_notify or a response byte; a second connection, if `conns` is 2,
/// answers `three`. Afterwards the port is closed. Returns the port, the thread, and the
/// request lines read, as "CONNECTION-INDEX REQUEST-LINE", in order.
fn pooled_tls_eof_server(
    ca: &TestCa,
    conns: usize,
) -> (u16, thread::JoinHandle<()>, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let (port, server) = tls_server(ca, conns, move |i, s| {
        let line = |h: String| h.lines().next().unwrap_or_default().to_string();
        tx.send(format!("{i} {}", line(read_head(s)))).unwrap();
        if i == 0 {
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none")
                .unwrap();
            s.flush().unwrap();
            tx.send(format!("{i} {}", line(read_head(s)))).unwrap();
            s.sock.shutdown(Shutdown::Both).unwrap();
        } else {
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthree")
                .unwrap();
            s.flush().unwrap();
            // Leave the connection open until the client is done with it.
            let _ = read_head(s);
        }
    });
    (port, server, rx)
}

/// Starts [`pooled_tls_eof_server`] with `conns` connections and a proxy trusting `ca`, GETs
/// `/1` (`one`) and checks that its connection went back to the pool. Returns the origin, the
/// proxy, the server thread and the request lines read.
fn pooled_tls_eof_setup(
    ca: &TestCa,
    conns: usize,
) -> (
    String,
    Proxy,
    thread::JoinHandle<()>,
    mpsc::Receiver<String>,
) {
    let (port, server, seen) = pooled_tls_eof_server(ca, conns);
    let origin = format!("https://127.0.0.1:{port}");
    let mut p = proxy_trusting(ca, &origin);
    assert_eq!(
        get_body(&mut p, &format!("{origin}/1")),
        Ok((200, "one".to_string()))
    );
    assert_eq!(
        p.inst.ctx().idle_connections(),
        1,
        "first connection pooled"
    );
    (origin, p, server, seen)
}

// abi.md "Connection reuse and retries": a request on a pooled connection that fails before any
// response byte ("write failure, EOF or reset") with an idempotent method is retried once on a
// fresh connection. A TLS EOF without close_notify is such an EOF: not 24, and retried.
#[test]
fn tls_close_without_close_notify_on_a_pooled_connection_retries_a_get() {
    let ca = TestCa::new();
    let (origin, mut p, server, seen) = pooled_tls_eof_setup(&ca, 2);
    assert_eq!(
        get_body(&mut p, &format!("{origin}/2")),
        Ok((200, "three".to_string()))
    );
    drop(p);
    server.join().unwrap();
    let seen: Vec<String> = seen.try_iter().collect();
    assert_eq!(
        seen,
        [
            "0 GET /1 HTTP/1.1",
            "0 GET /2 HTTP/1.1",
            "1 GET /2 HTTP/1.1"
        ],
        "the GET went out on the pooled connection, then once on a fresh one"
    );
}

// Same rule, other half: a POST is not idempotent, so the same failure is not retried and is
// connection_terminated (18), no response byte having arrived.
#[test]
fn tls_close_without_close_notify_on_a_pooled_connection_fails_a_post_with_18() {
    let ca = TestCa::new();
    // One connection only: the port is closed once it ends, so a wrong retry would show as
    // connection_refused (16) rather than hang.
    let (origin, mut p, server, seen) = pooled_tls_eof_setup(&ca, 1);
    let got = p
        .req(&format!("{origin}/2"), "POST", "", b"data")
        .unwrap_err();
    assert_code(
        got,
        E::ConnectionTerminated,
        "POST on a pooled connection closed under it",
    );
    drop(p);
    server.join().unwrap();
    let seen: Vec<String> = seen.try_iter().collect();
    assert_eq!(
        seen,
        ["0 GET /1 HTTP/1.1", "0 POST /2 HTTP/1.1"],
        "no retry"
    );
}

// abi.md Request URLs rule 11 and "Order of checks": an https host name rustls cannot verify a
// certificate for (a label starting or ending with `-`, which RFC 1123 forbids and rustls
// `ServerName` rejects) is invalid_url (10) *before* resolution or connection: it is neither
// resolved nor connected. Rule 5 still allows such labels for http.
#[test]
fn https_name_rustls_cannot_verify_is_invalid_url_before_dns_and_connect() {
    let ca = TestCa::new();
    let tls_server = TestServer::echo_tls(ca.localhost_config());
    let plain_server = TestServer::echo();
    let resolved: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&resolved);
    let ctx = HttpCtx::builder()
        .allowed_hosts([
            format!("https://*.test:{}", tls_server.port()),
            format!("http://*.test:{}", plain_server.port()),
        ])
        .address_policy(AddressPolicy::AllowAll)
        .timeouts(test_timeouts())
        .resolver(move |name: &str, port: u16| {
            log.lock().unwrap().push(name.to_string());
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        })
        .add_root_certificates_pem(ca.pem())
        .unwrap()
        .only_custom_roots(true)
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    for host in ["-x.test", "x-.test", "a.-b.test", "a.b-.test"] {
        let url = format!("https://{host}:{}/", tls_server.port());
        assert_code(
            p.req(&url, "GET", "", b"").unwrap_err(),
            E::InvalidUrl,
            &url,
        );
    }
    assert!(
        resolved.lock().unwrap().is_empty(),
        "resolved before refusing: {:?}",
        resolved.lock().unwrap()
    );
    tls_server.assert_untouched();

    // Control: the same name over http is a valid reg-name (rule 5), admitted and fetched.
    let url = format!("http://-x.test:{}/", plain_server.port());
    let (status, h) = p.get(&url);
    assert_eq!(status, 200);
    assert_eq!(p.close(h), 0);
    assert_eq!(*resolved.lock().unwrap(), ["-x.test"]);
    // And an inner hyphen is fine for https: it gets as far as the certificate check (the
    // leaf is for localhost).
    let url = format!("https://a-b.test:{}/", tls_server.port());
    assert_code(
        p.req(&url, "GET", "", b"").unwrap_err(),
        E::TlsCertificateError,
        &url,
    );
}
