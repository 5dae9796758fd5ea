//! The allow-list and the address policy, end to end through a guest, plus the connection
//! reuse and retry rules.
//!
//! Names are mapped to loopback by the builder's `resolver` hook, so `a.example.com` and friends
//! reach a local echo server without DNS. Whether a request was admitted is observable twice:
//! the guest's error code (7 = destination_not_allowed) and whether the server saw a connection.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use e2e::guests::guest_wasm;
use e2e::run::{GuestOutput, run_guest};
use e2e::server::{Reply, TestServer};
use wasi_experimental_http_host::{AddressPolicy, ErrorCode, HttpCtx};

fn fetch_wasm() -> PathBuf {
    guest_wasm("tests/guests", "fetch")
}

/// Names the resolver hook was asked for, in order.
type Seen = Arc<Mutex<Vec<String>>>;

/// A context admitting `entries` whose resolver maps every name to 127.0.0.1 (the host
/// connects to the URL's port whatever port a resolver answers with).
#[allow(
    clippy::unwrap_used,
    reason = "test helper outside #[test]: a panic here is the test failing with a message"
)]
fn ctx_full(entries: &[&str], policy: AddressPolicy) -> (HttpCtx, Seen) {
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let ctx = HttpCtx::builder()
        .allowed_hosts(entries.iter().copied())
        .address_policy(policy)
        .resolver(move |name: &str, port: u16| {
            log.lock().unwrap().push(name.to_string());
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        })
        .build()
        .unwrap_or_else(|e| panic!("building a context for {entries:?}: {e}"));
    (ctx, seen)
}

/// A context admitting `origins` with every other setting at its default: the real resolver
/// and the default address policy, which admits loopback only when an entry names it.
fn default_ctx(origins: &[&str]) -> HttpCtx {
    HttpCtx::builder()
        .allowed_hosts(origins.iter().copied())
        .build()
        .unwrap_or_else(|e| panic!("building a context for {origins:?}: {e}"))
}

fn get(ctx: HttpCtx, url: &str) -> GuestOutput {
    run_guest(&fetch_wasm(), ctx, &["GET", url])
}

/// `fetch GET url` with a fresh [`ctx_full`] context; returns the output and the names the
/// resolver was asked for.
#[allow(
    clippy::unwrap_used,
    reason = "test helper outside #[test]: a panic here is the test failing with a message"
)]
fn get_resolving(entries: &[&str], policy: AddressPolicy, url: &str) -> (GuestOutput, Vec<String>) {
    let (ctx, seen) = ctx_full(entries, policy);
    let out = get(ctx, url);
    let seen = seen.lock().unwrap().clone();
    (out, seen)
}

/// `fetch GET url` with a fresh context admitting `entries`, under [`AddressPolicy::AllowAll`]:
/// every name resolves to loopback, and the tests using this check the allow-list alone.
fn get_admitting(entries: &[&str], url: &str) -> GuestOutput {
    get(ctx_full(entries, AddressPolicy::AllowAll).0, url)
}

fn assert_status(out: &GuestOutput, status: u16, what: &str) {
    assert_eq!(
        out.line_value("status: "),
        Some(status.to_string().as_str()),
        "{what}:\n{out}"
    );
    out.assert_success();
}

fn assert_code(out: &GuestOutput, code: ErrorCode, what: &str) {
    let got = out.error().map(|(_, c)| c);
    assert_eq!(
        got,
        Some(code.code()),
        "{what}: expected {} ({}):\n{out}",
        code.code(),
        code.name()
    );
}

#[test]
fn wildcard_matches_subdomains_but_not_the_suffix_itself() {
    let server = TestServer::echo();
    let p = server.port();
    let entry = format!("http://*.example.com:{p}");

    for host in ["a.example.com", "a.b.example.com", "x-1.example.com"] {
        let (out, seen) = get_resolving(
            &[&entry],
            AddressPolicy::AllowAll,
            &format!("http://{host}:{p}/w"),
        );
        assert_status(&out, 200, host);
        assert_eq!(seen, vec![host.to_string()]);
    }
    let hosts_sent: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("host").unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        hosts_sent,
        [
            format!("a.example.com:{p}"),
            format!("a.b.example.com:{p}"),
            format!("x-1.example.com:{p}")
        ]
    );

    for host in [
        "example.com",
        "example.com.evil.net",
        "evilexample.com",
        "a.example.com.evil.net",
        "a.example.co",
        "a.example.comm",
    ] {
        let server = TestServer::echo();
        let entry = format!("http://*.example.com:{}", server.port());
        let (out, seen) = get_resolving(
            &[&entry],
            AddressPolicy::AllowAll,
            &format!("http://{host}:{}/w", server.port()),
        );
        assert_code(&out, ErrorCode::DestinationNotAllowed, host);
        assert!(
            seen.is_empty(),
            "{host} was resolved before the allow-list refused it"
        );
        server.assert_untouched();
    }
}

#[test]
fn scheme_and_port_are_part_of_the_origin() {
    let server = TestServer::echo();
    let other = TestServer::echo();
    let p = server.port();
    let entry = format!("http://api.example.com:{p}");
    // Same host, another port (where another server listens): refused, nothing connects.
    let out = get_admitting(
        &[&entry],
        &format!("http://api.example.com:{}/", other.port()),
    );
    assert_code(&out, ErrorCode::DestinationNotAllowed, "other port");
    other.assert_untouched();
    // Same host and port, other scheme.
    let out = get_admitting(&[&entry], &format!("https://api.example.com:{p}/"));
    assert_code(
        &out,
        ErrorCode::DestinationNotAllowed,
        "https vs http entry",
    );
    server.assert_untouched();
    let out = get_admitting(&[&entry], &format!("http://api.example.com:{p}/"));
    assert_status(&out, 200, "the admitted origin");
    assert_eq!(server.requests().len(), 1);
}

/// `http://h` and `http://h:80` are the same origin, in entries and in URLs (abi.md
/// "Allow-list", matching rule 2). No test server can listen on port 80, so admission is
/// observed without a connection: an admitted URL is resolved (to 127.0.0.1, which the default
/// address policy then refuses with 15 before connecting); a refused one is 7 and never
/// resolved.
#[test]
fn default_port_equals_explicit_port() {
    let cases = [
        ("http://h.example", "http://h.example/d"),
        ("http://h.example", "http://h.example:80/d"),
        ("http://h.example:80", "http://h.example/d"),
        ("http://h.example/", "http://h.example:80/d"),
        ("https://h.example", "https://h.example:443/d"),
        ("https://h.example:443", "https://h.example/d"),
    ];
    for (entry, url) in cases {
        let (out, seen) = get_resolving(&[entry], AddressPolicy::PublicOnly, url);
        let what = format!("entry {entry}, url {url}");
        assert_code(&out, ErrorCode::DestinationIpProhibited, &what);
        assert_eq!(seen, ["h.example"], "{what}");
    }
    // The default port is per scheme: `http://h` does not admit port 443 or https.
    for url in [
        "http://h.example:443/d",
        "https://h.example/d",
        "http://h.example:8080/d",
    ] {
        let (out, seen) = get_resolving(&["http://h.example"], AddressPolicy::PublicOnly, url);
        assert_code(&out, ErrorCode::DestinationNotAllowed, url);
        assert!(seen.is_empty(), "{url} was resolved");
    }
}

#[test]
fn host_comparison_is_case_insensitive() {
    let server = TestServer::echo();
    let p = server.port();
    let upper_entry = format!("http://API.Example.COM:{p}");
    let lower_entry = format!("http://api.example.com:{p}");
    let cases = [
        (upper_entry.clone(), format!("http://api.example.com:{p}/c")),
        (lower_entry.clone(), format!("http://API.EXAMPLE.COM:{p}/c")),
        (lower_entry, format!("HTTP://Api.Example.Com:{p}/c")),
        (
            format!("HTTP://*.EXAMPLE.com:{p}"),
            format!("http://x.Example.Com:{p}/c"),
        ),
    ];
    for (entry, url) in &cases {
        let (out, seen) = get_resolving(&[entry], AddressPolicy::AllowAll, url);
        assert_status(&out, 200, &format!("entry {entry}, url {url}"));
        // The name is lowercased once, and that value is what gets resolved.
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0], seen[0].to_ascii_lowercase(), "{url}");
    }
}

#[test]
fn one_trailing_dot_is_ignored() {
    let server = TestServer::echo();
    let p = server.port();
    let cases = [
        (
            format!("http://t.example.com:{p}"),
            format!("http://t.example.com.:{p}/t"),
        ),
        (
            format!("http://t.example.com.:{p}"),
            format!("http://t.example.com:{p}/t"),
        ),
        (
            format!("http://*.example.com:{p}"),
            format!("http://t.example.com.:{p}/t"),
        ),
    ];
    for (entry, url) in &cases {
        let (out, seen) = get_resolving(&[entry], AddressPolicy::AllowAll, url);
        assert_status(&out, 200, &format!("entry {entry}, url {url}"));
        assert_eq!(seen, vec!["t.example.com".to_string()]);
    }
    // Two dots make an empty label: not a valid host.
    let (out, _) = get_resolving(
        &[&cases[0].0],
        AddressPolicy::AllowAll,
        &format!("http://t.example.com..:{p}/t"),
    );
    assert_code(&out, ErrorCode::InvalidUrl, "two trailing dots");
}

#[test]
fn ipv6_literal_origin() {
    let server = match TestServer::echo_at("[::1]:0") {
        Ok(s) => s,
        Err(e) => {
            // A host without IPv6 loopback cannot run this test; say so loudly in the output.
            eprintln!("SKIPPED ipv6_literal_origin: cannot bind [::1]: {e}");
            return;
        }
    };
    let origin = server.origin();
    assert!(origin.starts_with("http://[::1]:"), "{origin}");
    // Default address policy: the entry names the loopback address literally, so it is allowed.
    let ctx = default_ctx(&[origin.as_str()]);
    let out = get(ctx, &format!("{origin}/v6"));
    assert_status(&out, 200, "[::1]");
    assert_eq!(
        server.requests()[0].header("host"),
        Some(origin.trim_start_matches("http://"))
    );
    // The IPv4 loopback is another origin.
    let ctx = default_ctx(&[origin.as_str()]);
    let out = get(ctx, &format!("http://127.0.0.1:{}/v6", server.port()));
    assert_code(&out, ErrorCode::DestinationNotAllowed, "127.0.0.1 vs [::1]");
}

// abi.md Request URLs rule 7: an IPv4-mapped IPv6 literal `[::ffff:a.b.c.d]` *is* the IPv4
// address a.b.c.d "from here on (allow-list, Host, connect), so no entry can be sidestepped by
// spelling an address the other way" (RFC 4291 §2.5.5.2). A deny entry for 127.0.0.1 also
// refuses the mapped spelling (which must not get a 200 from the denied address), and the other
// way round; an allow entry for 127.0.0.1 admits the mapped spelling,
// which is then sent and connected as 127.0.0.1.
#[test]
fn ipv4_mapped_literal_is_the_ipv4_address_for_the_allow_list() {
    let server = TestServer::echo();
    let p = server.port();
    let urls = [
        format!("http://127.0.0.1:{p}/m"),
        format!("http://[::ffff:127.0.0.1]:{p}/m"),
        format!("http://[::FFFF:7f00:1]:{p}/m"),
        format!("http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/m"),
    ];
    for deny in [
        format!("!http://127.0.0.1:{p}"),
        format!("!http://[::ffff:127.0.0.1]:{p}"),
        format!("!http://[::ffff:7f00:1]:{p}"),
    ] {
        for url in &urls {
            let out = get_admitting(&["insecure:allow-all", &deny], url);
            assert_code(
                &out,
                ErrorCode::DestinationNotAllowed,
                &format!("deny {deny}, url {url}"),
            );
        }
    }
    server.assert_untouched();

    // An allow entry for the IPv4 literal admits the mapped spelling, under the default
    // address policy too (the entry's literal address exempts loopback).
    let entry = format!("http://127.0.0.1:{p}");
    for url in &urls[1..] {
        let (out, seen) = get_resolving(&[&entry], AddressPolicy::PublicOnly, url);
        assert_status(&out, 200, url);
        assert!(seen.is_empty(), "an IP literal was resolved");
    }
    let requests = server.requests();
    assert_eq!(requests.len(), urls.len() - 1);
    for r in &requests {
        assert_eq!(
            r.header_all("host"),
            [format!("127.0.0.1:{p}")],
            "{}",
            r.head()
        );
    }
}

#[test]
fn non_ascii_host_is_invalid_url() {
    let server = TestServer::echo();
    let p = server.port();
    let entry = format!("http://*.example.com:{p}");
    for url in [
        format!("http://bücher.example.com:{p}/"),
        format!("http://a.exämple.com:{p}/"),
    ] {
        let out = get_admitting(&[&entry], &url);
        assert_code(&out, ErrorCode::InvalidUrl, &url);
    }
    // The punycode form is what a guest must send.
    let out = get_admitting(&[&entry], &format!("http://xn--bcher-kva.example.com:{p}/"));
    assert_status(&out, 200, "punycode host");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn deny_entries_carve_out_of_wildcards() {
    let server = TestServer::echo();
    let p = server.port();
    let allow = format!("http://*.example.com:{p}");
    let deny = format!("!http://admin.example.com:{p}");
    let deny_other_port = format!("!http://www.example.com:{}", p.wrapping_add(1).max(1));
    // Deny wins whatever the order of the entries.
    for entries in [
        vec![allow.as_str(), deny.as_str(), deny_other_port.as_str()],
        vec![deny.as_str(), deny_other_port.as_str(), allow.as_str()],
    ] {
        for host in [
            "admin.example.com",
            "ADMIN.example.com",
            "admin.example.com.",
        ] {
            let out = get_admitting(&entries, &format!("http://{host}:{p}/"));
            assert_code(&out, ErrorCode::DestinationNotAllowed, host);
        }
        // Not carved out: a sibling, a sub-name of the denied name, and a deny entry for
        // another port.
        for host in ["www.example.com", "x.admin.example.com"] {
            let out = get_admitting(&entries, &format!("http://{host}:{p}/"));
            assert_status(&out, 200, host);
        }
    }
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn malformed_entries_are_configuration_errors() {
    for bad in [
        "example.com",
        "*.example.com",
        "http://",
        "ftp://x",
        "http://a/b",
        "http://a:0",
        "http://a:65536",
        "http://user@a",
        "http://a b",
        "http://a?q",
        "!example.com",
    ] {
        assert!(
            HttpCtx::new(Some(vec![bad.to_string()]), None).is_err(),
            "HttpCtx::new accepted the entry {bad:?}"
        );
        assert!(
            HttpCtx::builder().allowed_hosts([bad]).build().is_err(),
            "the builder accepted the entry {bad:?}"
        );
        // One bad entry among good ones still fails: never a silent partial allow-list.
        assert!(
            HttpCtx::new(
                Some(vec!["http://good.example".to_string(), bad.to_string()]),
                None
            )
            .is_err(),
            "a list containing {bad:?} was accepted"
        );
    }
    for good in [
        "http://a",
        "http://a/",
        "HTTPS://A.Example:8443",
        "http://*.example.com",
        "!http://admin.example.com",
        "http://[::1]:8080",
        "http://127.0.0.1:8080",
        // An empty port is the scheme's default (RFC 3986 §3.2.3), as in URLs.
        "http://a:",
        "insecure:allow-all",
    ] {
        assert!(
            HttpCtx::new(Some(vec![good.to_string()]), None).is_ok(),
            "HttpCtx::new refused the entry {good:?}"
        );
    }
}

/// PublicOnly (the default) refuses loopback unless the entry names the address itself.
#[test]
fn address_policy_guards_loopback() {
    let server = TestServer::echo();
    let p = server.port();

    // A name that resolves to 127.0.0.1: refused after resolution, before any connection.
    for entry in [
        format!("http://app.example.com:{p}"),
        format!("http://*.example.com:{p}"),
        "insecure:allow-all".to_string(),
    ] {
        let (out, seen) = get_resolving(
            &[&entry],
            AddressPolicy::PublicOnly,
            &format!("http://app.example.com:{p}/"),
        );
        assert_code(&out, ErrorCode::DestinationIpProhibited, &entry);
        assert_eq!(seen, vec!["app.example.com".to_string()]);
    }
    server.assert_untouched();

    // The entry names the loopback address literally: allowed.
    let entry = format!("http://127.0.0.1:{p}");
    let (out, _) = get_resolving(&[&entry], AddressPolicy::PublicOnly, &format!("{entry}/"));
    assert_status(&out, 200, "literal 127.0.0.1");
    // `localhost` is loopback by definition.
    let entry = format!("http://localhost:{p}");
    let (out, _) = get_resolving(&[&entry], AddressPolicy::PublicOnly, &format!("{entry}/"));
    assert_status(&out, 200, "localhost");
    // AllowAll: the name is enough.
    let (out, _) = get_resolving(
        &[&format!("http://app.example.com:{p}")],
        AddressPolicy::AllowAll,
        &format!("http://app.example.com:{p}/"),
    );
    assert_status(&out, 200, "AllowAll");
    assert_eq!(server.requests().len(), 3);

    // The original constructor uses the default policy too.
    let ctx = HttpCtx::new(Some(vec![format!("http://127.0.0.1:{p}")]), None).unwrap();
    assert_status(
        &get(ctx, &format!("http://127.0.0.1:{p}/")),
        200,
        "HttpCtx::new",
    );
}

/// `None` and an empty list admit nothing.
#[test]
fn no_allow_list_denies_everything() {
    let server = TestServer::echo();
    let url = server.url("/");
    for ctx in [
        HttpCtx::new(None, None).unwrap(),
        HttpCtx::new(Some(Vec::new()), None).unwrap(),
    ] {
        let out = get(ctx, &url);
        assert_code(&out, ErrorCode::DestinationNotAllowed, "empty allow-list");
    }
    server.assert_untouched();
}

/// Redirects are returned to the guest, never followed, even to an admitted origin.
#[test]
fn redirects_are_not_followed() {
    let target = TestServer::echo();
    let server = TestServer::scripted(vec![Reply::raw(format!(
        "HTTP/1.1 302 Found\r\nlocation: {}\r\ncontent-length: 0\r\n\r\n",
        target.url("/landing")
    ))]);
    let ctx = default_ctx(&[&server.origin(), &target.origin()]);
    let out = run_guest(
        &fetch_wasm(),
        ctx,
        &["GET", &server.url("/redirect"), "--header", "location"],
    );
    assert_status(&out, 302, "redirect");
    assert!(
        out.stdout.contains(&target.url("/landing")),
        "Location not shown:\n{out}"
    );
    target.assert_untouched();
}

fn ok_reply(body: &str) -> Reply {
    Reply::raw(format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ))
}

/// A pooled connection the server drops after reading the next request: a GET is retried once
/// on a fresh connection and succeeds.
#[test]
fn idempotent_request_is_retried_once_on_a_fresh_connection() {
    // Request 1 is answered (keep-alive); request 2, on the same connection, is read and the
    // connection closed without a byte of response; request 3 is the retry.
    let server = TestServer::scripted(vec![ok_reply("one"), Reply::new().close(), ok_reply("two")]);
    let ctx = default_ctx(&[&server.origin()]);
    let out = run_guest(
        &fetch_wasm(),
        ctx,
        &["GET", &server.url("/r"), "--repeat", "2"],
    );
    out.assert_success();
    assert_eq!(out.line_values("status: "), ["200", "200"], "{out}");
    assert_eq!(server.accepted(), 2, "one retry on one fresh connection");
    assert_eq!(server.wait_requests(3).len(), 3);
}

/// The same situation with a POST: the request may have been processed, so it is not retried.
/// The guest sees connection_terminated (18) and the server only ever had one connection.
#[test]
fn non_idempotent_request_is_not_retried() {
    let server = TestServer::scripted(vec![ok_reply("one"), Reply::new().close(), ok_reply("two")]);
    let ctx = default_ctx(&[&server.origin()]);
    let out = run_guest(
        &fetch_wasm(),
        ctx,
        &["POST", &server.url("/r"), "--body", "data", "--repeat", "2"],
    );
    assert_eq!(
        out.line_value("status: "),
        Some("200"),
        "the first POST succeeds:\n{out}"
    );
    out.assert_error(ErrorCode::ConnectionTerminated, &["req"]);
    assert_eq!(server.accepted(), 1, "a POST must not be retried");
    assert_eq!(server.wait_requests(2).len(), 2);
}

/// A server that closes an idle keep-alive connection: the host notices before reusing it, so
/// even a POST goes out on a fresh connection and succeeds.
#[test]
fn connection_closed_while_idle_is_not_reused() {
    let server = TestServer::scripted(vec![
        Reply::raw_then_close("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\none"),
        ok_reply("two"),
    ]);
    let ctx = default_ctx(&[&server.origin()]);
    let sibling = ctx.new_sibling();
    let out = run_guest(&fetch_wasm(), ctx, &["GET", &server.url("/a")]);
    assert_status(&out, 200, "first");
    // Let the server's close reach the host's idle connection.
    server.wait_requests(1);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let out = run_guest(
        &fetch_wasm(),
        sibling,
        &["POST", &server.url("/b"), "--body", "x"],
    );
    assert_status(&out, 200, "POST after the idle connection was closed");
    assert_eq!(server.accepted(), 2);
    assert_eq!(server.requests().len(), 2);
}

/// Keep-alive through `new_sibling`: two stores share one pooled connection.
#[test]
fn sibling_contexts_share_the_pool() {
    let server = TestServer::echo();
    let ctx = default_ctx(&[&server.origin()]);
    let sibling = ctx.new_sibling();
    assert_status(&get(ctx, &server.url("/1")), 200, "first store");
    assert_status(&get(sibling, &server.url("/2")), 200, "second store");
    assert_eq!(
        server.accepted(),
        1,
        "the second store reused the connection"
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn dead_name_port_still_reaches_policy_first() {
    // A non-loopback-looking name on a port nothing listens on: the admitted origin gets a
    // network error, the refused one gets 7 without resolving, showing the decision happens
    // before any resolution or connection.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (out, seen) = get_resolving(
        &[&format!("http://ok.example:{dead}")],
        AddressPolicy::AllowAll,
        &format!("http://ok.example:{dead}/"),
    );
    assert_code(&out, ErrorCode::ConnectionRefused, "admitted, dead port");
    assert_eq!(seen.len(), 1);
    let (out, seen) = get_resolving(
        &[&format!("http://ok.example:{dead}")],
        AddressPolicy::AllowAll,
        &format!("http://no.example:{dead}/"),
    );
    assert_code(&out, ErrorCode::DestinationNotAllowed, "refused name");
    assert!(seen.is_empty());
}
