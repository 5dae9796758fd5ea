//! Credentials the guest never holds (abi.md, "Injected headers"; "TLS", client certificates):
//! injected fields reach exactly the matching origins, never guest memory, events or errors; the
//! guest cannot set or override them; a redirect does not carry them; a client certificate is
//! presented to matching origins only, and a server requiring one refuses a request without it.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] fns: a panic is a failed test"
)]

use std::sync::{Arc, Mutex};

use e2e::abi::{Proxy, assert_code};
use e2e::ctx_builder;
use e2e::server::{Reply, TestServer, find};
use e2e::tls::TestCa;
use wasi_experimental_http_host::ErrorCode;

const SECRET: &str = "s3cr3t-token-7f1c";

/// A server answering `n` requests with `200 OK` and a body that says nothing of the request.
fn quiet_server(n: usize) -> TestServer {
    TestServer::scripted(
        (0..n)
            .map(|_| Reply::raw("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"))
            .collect(),
    )
}

/// The whole of the guest's memory contains `needle`.
fn in_guest_memory(p: &mut Proxy, needle: &str) -> bool {
    let size = p.mem_size() as usize;
    let mem = p.inst.read_mem(0, size);
    find(&mem, needle.as_bytes()).is_some()
}

#[test]
fn an_injected_header_reaches_only_matching_origins_and_never_the_guest() {
    let api = quiet_server(8);
    let other = quiet_server(8);
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let ctx = ctx_builder([api.origin(), other.origin()])
        .inject_header(api.origin(), "authorization", format!("Bearer {SECRET}"))
        .inject_header(api.origin(), "x-tenant", "acme")
        .on_event(move |e| seen.lock().unwrap().push(e.to_json()))
        .build()
        .unwrap();
    assert!(!format!("{ctx:?}").contains(SECRET));
    let mut p = Proxy::new(ctx);

    let (status, h) = p.req(&api.url("/v1"), "GET", "accept: */*\n", b"").unwrap();
    assert_eq!(status, 200);
    assert_eq!(p.read_body(h).unwrap(), b"ok");
    // headers_get_all shows the response's fields, never the request's.
    let all = p.headers_get_all(h, 4096);
    assert_eq!(all.code, 0);
    assert_eq!(p.close(h), 0);
    let (_, h) = p.get(&other.url("/v1"));
    assert_eq!(p.close(h), 0);

    let got = &api.requests()[0];
    assert_eq!(
        got.header_all("authorization"),
        [format!("Bearer {SECRET}")]
    );
    assert_eq!(got.header("x-tenant"), Some("acme"));
    assert_eq!(
        got.header("accept"),
        Some("*/*"),
        "the guest's own fields still go"
    );
    let head = got.head();
    assert!(
        head.find("accept").unwrap() < head.find("authorization").unwrap(),
        "injected after the guest's fields: {head}"
    );
    let elsewhere = &other.requests()[0];
    assert!(
        elsewhere.header("authorization").is_none(),
        "{}",
        elsewhere.head()
    );
    assert!(elsewhere.header("x-tenant").is_none());

    assert!(
        !in_guest_memory(&mut p, SECRET),
        "the secret is in guest memory"
    );
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| !e.contains(SECRET) && !e.contains("Bearer"))
    );
}

#[test]
fn the_guest_cannot_set_or_override_an_injected_header() {
    let api = quiet_server(4);
    let other = quiet_server(4);
    let ctx = ctx_builder([api.origin(), other.origin()])
        .inject_header(api.origin(), "X-Api-Key", SECRET)
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    for block in [
        "x-api-key: guess\n",
        "X-API-KEY:\n",
        "a: 1\nx_api_key: mine\n",
        "X_Api-Key: again",
    ] {
        let code = p.req(&api.url("/"), "GET", block, b"").unwrap_err();
        assert_code(code, ErrorCode::ForbiddenHeader, block);
    }
    assert_eq!(api.accepted(), 0, "nothing sent");
    // To an origin without the binding the name is the guest's own business.
    let (_, h) = p
        .req(&other.url("/"), "GET", "x-api-key: mine\n", b"")
        .unwrap();
    assert_eq!(p.close(h), 0);
    assert_eq!(other.requests()[0].header("x-api-key"), Some("mine"));
    // A refused origin answers 7, whatever the header block: no probing for bindings.
    let code = p
        .req("http://127.0.0.2:9/", "GET", "x-api-key: guess\n", b"")
        .unwrap_err();
    assert_code(code, ErrorCode::DestinationNotAllowed, "refused origin");
}

#[test]
fn a_connection_that_carried_a_guest_body_and_a_credential_is_never_reused() {
    // A server the guest's body desynchronizes could take the next request, credential
    // included, for that body's continuation and echo it back; so such a connection is closed.
    let api = quiet_server(6);
    let ctx = ctx_builder([api.origin()])
        .inject_header(api.origin(), "authorization", SECRET)
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    for _ in 0..2 {
        let (_, h) = p
            .req(&api.url("/upload"), "POST", "", b"guest bytes")
            .unwrap();
        assert_eq!(p.read_body(h).unwrap(), b"ok");
        assert_eq!(p.close(h), 0);
    }
    assert_eq!(
        api.accepted(),
        2,
        "a new connection per request with a body"
    );
    for _ in 0..2 {
        let (_, h) = p.get(&api.url("/read"));
        assert_eq!(p.read_body(h).unwrap(), b"ok");
        assert_eq!(p.close(h), 0);
    }
    assert_eq!(
        api.accepted(),
        3,
        "requests without a body share one connection"
    );
}

#[test]
fn a_redirect_does_not_carry_the_credential_anywhere() {
    let elsewhere = quiet_server(1);
    let api = TestServer::scripted(vec![Reply::raw(format!(
        "HTTP/1.1 302 Found\r\nlocation: {}\r\ncontent-length: 0\r\n\r\n",
        elsewhere.url("/steal")
    ))]);
    let ctx = ctx_builder([api.origin(), elsewhere.origin()])
        .inject_header(api.origin(), "authorization", SECRET)
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    let (status, h) = p.get(&api.url("/login"));
    assert_eq!(status, 302, "returned, not followed");
    assert_eq!(p.read_body(h).unwrap(), b"");
    assert_eq!(p.close(h), 0);
    assert_eq!(api.requests()[0].header("authorization"), Some(SECRET));
    assert_eq!(elsewhere.accepted(), 0, "the redirect target heard nothing");
}

#[test]
fn wildcard_bindings_follow_the_allow_list_rules() {
    let server = quiet_server(4);
    let port = server.port();
    let ctx = e2e::ctx_builder([format!("http://localhost:{port}")])
        .inject_header(format!("http://*.localhost:{port}"), "x-sub", "1")
        .inject_header(format!("http://localhost:{port}"), "x-exact", "1")
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    let (_, h) = p.get(&format!("http://localhost:{port}/"));
    assert_eq!(p.close(h), 0);
    let r = &server.requests()[0];
    assert_eq!(r.header("x-exact"), Some("1"));
    assert!(r.header("x-sub").is_none(), "`*.` needs an extra label");
}

#[test]
fn bad_bindings_are_configuration_errors_that_do_not_echo_the_value() {
    for (pattern, name, value) in [
        ("http://127.0.0.1:1", "content-length", "1"),
        ("http://127.0.0.1:1", "proxy_authorization", "x"),
        ("http://127.0.0.1:1", "x-k", "a\r\nx-evil: 1"),
        ("!http://127.0.0.1:1", "x-k", "v"),
        ("insecure:allow-all", "x-k", "v"),
    ] {
        let e = ctx_builder(["http://127.0.0.1:1"])
            .inject_header(pattern, name, format!("{value}{SECRET}"))
            .build()
            .unwrap_err()
            .to_string();
        assert!(!e.contains(SECRET), "{e}");
    }
}

fn https_origin(server: &TestServer) -> String {
    format!("https://127.0.0.1:{}", server.port())
}

#[test]
fn a_client_certificate_is_presented_to_matching_origins_only() {
    let ca = TestCa::new();
    let clients = TestCa::new();
    let (cert, key) = clients.client_identity("guest-client");
    let ok = || Reply::raw("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    let strict = TestServer::scripted_tls(
        vec![ok(), ok()],
        ca.localhost_config_with_client_auth(&clients, false),
    );
    let curious = TestServer::scripted_tls(
        vec![ok()],
        ca.localhost_config_with_client_auth(&clients, true),
    );
    let ctx = ctx_builder([https_origin(&strict), https_origin(&curious)])
        .add_root_certificates_pem(ca.pem())
        .unwrap()
        .client_certificate(https_origin(&strict), cert.clone(), key.clone())
        .build()
        .unwrap();
    assert!(!format!("{ctx:?}").contains("PRIVATE KEY"));
    let mut p = Proxy::new(ctx);
    let (status, h) = p.get(&format!("{}/mtls", https_origin(&strict)));
    assert_eq!(status, 200);
    assert_eq!(p.read_body(h).unwrap(), b"ok");
    assert_eq!(p.close(h), 0);
    assert!(strict.wait_tls_handshakes(1)[0].client_certificate);

    // The other server asks for one too; it is not bound to that origin, so none is sent.
    let (status, h) = p.get(&format!("{}/", https_origin(&curious)));
    assert_eq!(status, 200);
    assert_eq!(p.close(h), 0);
    let hs = curious.wait_tls_handshakes(1);
    assert_eq!(hs[0].error, None);
    assert!(
        !hs[0].client_certificate,
        "identity sent to an unbound origin"
    );
}

// abi.md "Connection reuse and retries": siblings share one pool, and they cannot differ in
// client certificates, because the bindings belong to the configuration they share (there is
// no per-context setter): a pooled mTLS connection one sibling opened, reused by another,
// carries the identity that other sibling would have presented. A context built separately,
// whatever its identity, has a pool of its own and never gets that connection.
#[test]
fn siblings_share_mtls_connections_and_separate_builders_do_not() {
    let ca = TestCa::new();
    let clients = TestCa::new();
    let (cert, key) = clients.client_identity("guest-client");
    let ok = || Reply::raw("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    let strict = TestServer::scripted_tls(
        vec![ok(), ok(), ok()],
        ca.localhost_config_with_client_auth(&clients, false),
    );
    let origin = https_origin(&strict);
    let with_identity = || {
        ctx_builder([origin.as_str()])
            .add_root_certificates_pem(ca.pem())
            .unwrap()
            .client_certificate(origin.as_str(), cert.clone(), key.clone())
            .build()
            .unwrap()
    };
    let first = with_identity();
    let sibling = first.new_sibling();
    let get = |ctx: wasi_experimental_http_host::HttpCtx| {
        let mut p = Proxy::new(ctx);
        let (status, h) = p.get(&format!("{origin}/"));
        assert_eq!(status, 200);
        assert_eq!(p.read_body(h).unwrap(), b"ok");
        assert_eq!(p.close(h), 0);
    };
    get(first);
    get(sibling);
    assert_eq!(
        strict.accepted(),
        1,
        "the sibling reused the pooled connection"
    );
    // Same pattern and identity, but another builder: another pool, another connection.
    get(with_identity());
    assert_eq!(
        strict.accepted(),
        2,
        "a separate builder never shares the pool"
    );
    let handshakes = strict.wait_tls_handshakes(2);
    assert!(handshakes.iter().all(|h| h.client_certificate));
}

#[test]
fn a_server_requiring_a_client_certificate_refuses_a_request_without_one() {
    let ca = TestCa::new();
    let clients = TestCa::new();
    let strict = TestServer::scripted_tls(
        vec![Reply::raw("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")],
        ca.localhost_config_with_client_auth(&clients, false),
    );
    // No identity at all, then an identity bound to another origin.
    let (cert, key) = clients.client_identity("guest-client");
    let builders = [
        ctx_builder([https_origin(&strict)]),
        ctx_builder([https_origin(&strict)]).client_certificate("https://127.0.0.1:1", cert, key),
    ];
    for builder in builders {
        let ctx = builder
            .add_root_certificates_pem(ca.pem())
            .unwrap()
            .build()
            .unwrap();
        let mut p = Proxy::new(ctx);
        let code = p.req(&https_origin(&strict), "GET", "", b"").unwrap_err();
        assert!(
            code == e2e::abi::code(ErrorCode::TlsProtocolError)
                || code == e2e::abi::code(ErrorCode::ConnectionTerminated),
            "got {}",
            e2e::abi::name(code)
        );
    }
    assert!(
        strict.requests().is_empty(),
        "no request reached the application"
    );
}

#[test]
fn a_bad_client_certificate_is_a_configuration_error() {
    let ca = TestCa::new();
    let (cert, _) = ca.client_identity("c");
    let (good_cert, good_key) = ca.client_identity("e");
    let other_key = TestCa::new().client_identity("d").1;
    // A pattern is an allow entry without `!`: a deny entry binds nothing, and
    // `insecure:allow-all` would present the identity to every origin (abi.md, "TLS").
    for (pattern, cert, key) in [
        ("https://127.0.0.1:1", cert.clone(), "not a key".to_owned()),
        ("https://127.0.0.1:1", "not a cert".to_owned(), other_key),
        ("http://127.0.0.1:1", good_cert.clone(), good_key.clone()),
        ("!https://127.0.0.1:1", good_cert.clone(), good_key.clone()),
        ("insecure:allow-all", good_cert, good_key),
    ] {
        let e = ctx_builder(["https://127.0.0.1:1"])
            .client_certificate(pattern, cert, key)
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("client certificate for `{pattern}`")),
            "{e}"
        );
        assert!(!e.contains("PRIVATE KEY"), "{e}");
    }
}
