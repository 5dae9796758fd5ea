//! HTTPS: certificate verification against embedder-supplied roots, host names and IP SANs,
//! no plaintext fallback, and what the ClientHello offers (SNI, ALPN, versions) as the server
//! observed it. The CA and leaves are generated per run (e2e::tls).
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;

use e2e::abi::{Proxy, assert_code, name};
use e2e::guests::guest_wasm;
use e2e::run::run_guest;
use e2e::server::{TestServer, TlsHandshake};
use e2e::tls::{LOCAL_NAMES, TestCa, self_signed_config};
use e2e::{ctx_builder, loopback_only_resolver, test_timeouts};
use rustls::ProtocolVersion;
use rustls::version::{TLS12, TLS13};
use wasi_experimental_http_wasmtime::{ErrorCode as E, HttpCtx, HttpCtxBuilder};

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

// design.md §2 transport: TLS verifies the server against the roots the embedder added; the
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

// design.md §2: https:// means TLS or nothing. A plaintext HTTP server (which answers the
// ClientHello with an HTTP 400) is tls_protocol_error (20), never a plaintext fallback.
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

// design.md §2: the embedder's PEM bundle must contain a certificate; garbage is a
// configuration error at construction, not a silent "trust nothing".
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
