//! HTTPS: certificate verification against embedder-supplied roots, host names and IP SANs,
//! and no plaintext fallback. The CA and leaves are generated per run (e2e::tls).
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;

use e2e::abi::{Proxy, assert_code, name};
use e2e::ctx_builder;
use e2e::server::TestServer;
use e2e::tls::{LOCAL_NAMES, TestCa, self_signed_config};
use wasi_experimental_http_wasmtime::{ErrorCode as E, HttpCtxBuilder};

/// Maps every name to 127.0.0.1 so `localhost` (and `wrong.example`) need no system resolver.
fn loopback_resolver(b: HttpCtxBuilder) -> HttpCtxBuilder {
    b.resolver(|_, port| Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]))
}

/// A proxy trusting only `ca` and admitting `origin`.
fn proxy_trusting(ca: &TestCa, origin: &str) -> Proxy {
    let ctx = loopback_resolver(ctx_builder([origin]))
        .add_root_certificates_pem(ca.pem())
        .unwrap()
        .only_custom_roots(true)
        .build()
        .unwrap();
    Proxy::new(ctx)
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
