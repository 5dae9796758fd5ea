//! Real guests (`tests/guests`: `fetch`, `multi`) against loopback servers: what goes on the
//! wire, and how each response framing rule of RFC 9112 reaches the guest. Each test names the
//! rule it checks and cites abi.md and the RFC section.
//!
//! `fetch` prints `status: N`, `header NAME: V`, `headers:` + block, `body: TEXT`,
//! `body-bytes: N`, `body-fnv: HEX`, or `error: STAGE CODE NAME` with exit code 1.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use e2e::abi::{Proxy, assert_code};
use e2e::guests::guest_wasm;
use e2e::run::{GuestOutput, run_guest};
use e2e::server::{Reply, TestServer};
use e2e::{ctx_allowing, ctx_allowing_with_timeouts, ctx_builder};
use wasi_experimental_http_host::{ErrorCode as E, HttpCtx};

fn fetch(ctx: HttpCtx, args: &[&str]) -> GuestOutput {
    run_guest(&guest_wasm("tests/guests", "fetch"), ctx, args)
}

/// Runs `fetch METHOD URL args...` against `server` (allowed).
fn fetch_from(server: &TestServer, method: &str, path: &str, args: &[&str]) -> GuestOutput {
    let url = server.url(path);
    let mut all = vec![method, url.as_str()];
    all.extend_from_slice(args);
    fetch(ctx_allowing([server.origin()]), &all)
}

/// A scripted server answering one request with `response`, then fetching `GET /`.
fn fetch_response(response: impl AsRef<[u8]>, args: &[&str]) -> GuestOutput {
    let server = TestServer::scripted(vec![Reply::raw(response)]);
    fetch_from(&server, "GET", "/", args)
}

/// Same, with the server closing the connection after `response`.
fn fetch_response_then_close(response: impl AsRef<[u8]>, args: &[&str]) -> GuestOutput {
    let server = TestServer::scripted(vec![Reply::raw_then_close(response)]);
    fetch_from(&server, "GET", "/", args)
}

/// Asserts success and a body of exactly `body`, by its `body:` text; the status is left to
/// each test (several expect other than 200).
#[track_caller]
fn assert_body(out: &GuestOutput, body: &str) {
    out.assert_success();
    assert_eq!(out.line_value("body: "), Some(body), "{out}");
    assert_eq!(
        out.line_value("body-bytes: "),
        Some(body.len().to_string().as_str()),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// What the host sends (abi.md "What the host sends"; RFC 9112 §3, §6.2; RFC 9110 §7.2, §8.6).

// A GET is exactly: request line, Host (first), the guest's lines in order as `name: value`,
// blank line. No Content-Length (no body), nothing else (no User-Agent, Accept, Connection).
#[test]
fn get_request_bytes_are_exactly_request_line_host_and_guest_headers() {
    let server = TestServer::scripted(vec![Reply::raw(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    )]);
    let out = fetch_from(
        &server,
        "GET",
        "/path/x?q=1&r=%20#fragment",
        &[
            "-H",
            "X-First:  one ",
            "-H",
            "x-second:two\ttabs",
            "-H",
            "X-First:again",
        ],
    );
    assert_body(&out, "ok");
    assert_eq!(out.line_value("status: "), Some("200"));
    let r = server.wait_requests(1);
    let want = format!(
        "GET /path/x?q=1&r=%20 HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-First: one\r\nx-second: two\ttabs\r\nX-First: again\r\n\r\n",
        server.port()
    );
    assert_eq!(String::from_utf8_lossy(&r[0].raw), want);
}

// A POST carries its body with the host's own Content-Length (RFC 9112 §6.2).
#[test]
fn post_request_bytes_carry_body_and_content_length() {
    let server = TestServer::echo();
    let out = fetch_from(
        &server,
        "POST",
        "/echo",
        &["-H", "content-type: text/x-test", "--body", "hello, world"],
    );
    assert_body(&out, "hello, world");
    let r = server.wait_requests(1);
    let want = format!(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{}\r\ncontent-type: text/x-test\r\nContent-Length: 12\r\n\r\nhello, world",
        server.port()
    );
    assert_eq!(String::from_utf8_lossy(&r[0].raw), want);
}

// RFC 9110 §8.6: a POST/PUT/PATCH without a body sends `Content-Length: 0`; other methods
// without a body send none; a body on any method gets one.
#[test]
fn content_length_zero_only_for_post_put_patch() {
    for (method, want) in [
        ("POST", Some("0")),
        ("PUT", Some("0")),
        ("PATCH", Some("0")),
        ("GET", None),
        ("DELETE", None),
        ("OPTIONS", None),
    ] {
        let server = TestServer::echo();
        let out = fetch_from(&server, method, "/", &["--no-body"]);
        out.assert_success();
        let r = server.wait_requests(1);
        assert_eq!(
            r[0].header("content-length"),
            want,
            "{method}: {}",
            r[0].head()
        );
    }
    let server = TestServer::echo();
    fetch_from(&server, "DELETE", "/", &["--body", "abc"]).assert_success();
    let r = server.wait_requests(1);
    assert_eq!(r[0].header("content-length"), Some("3"));
    assert_eq!(r[0].body, b"abc");
}

// RFC 9112 §3.2.1: an empty path is sent as "/"; the query is kept; the fragment is not sent.
#[test]
fn empty_path_becomes_slash_and_fragment_is_dropped() {
    let server = TestServer::echo();
    let url = format!("{}?x=1#frag", server.origin());
    fetch(ctx_allowing([server.origin()]), &["GET", &url]).assert_success();
    let r = server.wait_requests(1);
    assert_eq!(r[0].target, "/?x=1");
}

// ---------------------------------------------------------------------------------------------
// Body framing (abi.md "Responses"; RFC 9112 §6.3).

// RFC 9112 §6.3 rule 5: Content-Length bytes exactly, even if the server keeps the connection
// open afterwards (no waiting for EOF).
#[test]
fn content_length_body_is_read_exactly() {
    let out = fetch_response(
        "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
        &[],
    );
    assert_body(&out, "hello world");
}

// RFC 9112 §6.3 rule 5 and RFC 9110 §8.6: a list of identical Content-Length values is that
// value.
#[test]
fn identical_content_length_values_are_accepted() {
    let out = fetch_response(
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\ncontent-length: 5\r\n\r\nhello",
        &[],
    );
    assert_body(&out, "hello");
}

// RFC 9112 §7.1, §7.1.1, §7.1.2: chunked with extensions (with BWS and quoted values) and a
// trailer section; extensions are ignored and trailers are never visible (abi.md "Chunked").
#[test]
fn chunked_body_with_extensions_and_trailers() {
    let response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;a=1\r\nhello\r\n\
        1 ; name=\"quoted;value\" ; flag\r\n,\r\n\
        00006\r\n world\r\n\
        0;last=yes\r\nX-Trailer: t\r\nx-other: u\r\n\r\n";
    let out = fetch_response(response, &["--header", "x-trailer", "--all-headers"]);
    assert_body(&out, "hello, world");
    assert_eq!(
        out.line_value("header x-trailer: "),
        Some("error 5 header_not_found"),
        "{out}"
    );
    assert!(
        !out.stdout.contains("x-other"),
        "trailer visible in headers_get_all:\n{out}"
    );
}

// RFC 9112 §7.1: the chunked decoder is incremental; a body arriving a few bytes at a time, split
// inside sizes, extensions, data and CRLFs, decodes the same.
#[test]
fn chunked_body_split_across_many_writes() {
    let wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na;x=y\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n";
    let mut reply = Reply::new();
    for piece in wire.as_bytes().chunks(3) {
        reply = reply.send(piece).sleep(Duration::from_millis(2));
    }
    let server = TestServer::scripted(vec![reply]);
    let out = fetch_from(&server, "GET", "/", &[]);
    assert_body(&out, "0123456789abc");
}

// RFC 9112 §7.1: the chunk size is hex and case-insensitive.
#[test]
fn chunk_size_is_hexadecimal() {
    let data = "x".repeat(0x1F);
    let response =
        format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n1f\r\n{data}\r\n0\r\n\r\n");
    assert_body(&fetch_response(response, &[]), &data);
}

// RFC 9112 §6.3 rule 8: without Content-Length or Transfer-Encoding, the body runs to the close
// of the connection.
#[test]
fn close_delimited_body_ends_at_connection_close() {
    let out = fetch_response_then_close("HTTP/1.1 200 OK\r\n\r\nuntil the end", &[]);
    assert_body(&out, "until the end");
}

// RFC 9112 §6.3 rule 1: responses to HEAD, and 204 and 304 responses, have no body whatever
// their framing fields say. The server keeps the connection open and sends nothing more: a
// host that waited for the announced bytes would time out.
#[test]
fn head_204_and_304_have_no_body() {
    for (method, status) in [
        ("HEAD", "200 OK"),
        ("GET", "204 No Content"),
        ("GET", "304 Not Modified"),
    ] {
        let server = TestServer::scripted(vec![Reply::raw(format!(
            "HTTP/1.1 {status}\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\n"
        ))]);
        let ctx =
            ctx_allowing_with_timeouts([server.origin()], |t| t.idle = Duration::from_secs(2));
        let out = fetch(ctx, &[method, &server.url("/")]);
        assert_body(&out, "");
        assert_eq!(out.line_value("status: "), Some(&status[..3]), "{out}");
    }
}

// RFC 9110 §15.2: interim 1xx responses (100, 103 with fields) are read and discarded; the
// guest sees the final response and none of the interim fields.
#[test]
fn interim_1xx_responses_are_skipped() {
    let response = "HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
        HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal";
    let out = fetch_response(response, &["--header", "link"]);
    assert_body(&out, "final");
    assert_eq!(out.line_value("status: "), Some("200"));
    assert_eq!(
        out.line_value("header link: "),
        Some("error 5 header_not_found"),
        "{out}"
    );
}

// abi.md "Interim responses": at most 32 interim responses; the 33rd is response_malformed.
#[test]
fn more_than_32_interim_responses_are_malformed() {
    let final_response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let ok = "HTTP/1.1 100 Continue\r\n\r\n".repeat(32) + final_response;
    assert_body(&fetch_response(ok, &[]), "ok");
    let too_many = "HTTP/1.1 100 Continue\r\n\r\n".repeat(33) + final_response;
    fetch_response(too_many, &[]).assert_error(E::ResponseMalformed, &["req"]);
}

// RFC 9110 §15.2.2: the host never asks for an upgrade, so 101 is response_malformed.
#[test]
fn switching_protocols_101_is_malformed() {
    let out = fetch_response(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        &[],
    );
    out.assert_error(E::ResponseMalformed, &["req"]);
}

// RFC 9110 §15.4 and abi.md "Redirects": a 302 is returned as is, with its Location visible;
// the Location target receives nothing, even though the allow-list admits it.
#[test]
fn redirect_is_returned_not_followed() {
    let target = TestServer::echo();
    let location = target.url("/elsewhere");
    let server = TestServer::scripted(vec![Reply::raw(format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 5\r\n\r\nmoved"
    ))]);
    let ctx = ctx_allowing([server.origin(), target.origin()]);
    let out = fetch(ctx, &["GET", &server.url("/"), "--header", "location"]);
    assert_body(&out, "moved");
    assert_eq!(out.line_value("status: "), Some("302"));
    assert_eq!(out.line_value("header location: "), Some(location.as_str()));
    target.assert_untouched();
}

// RFC 9112 §6.3 rule 5 and §8: a Content-Length body cut short is response_incomplete, never a
// silent end of body.
#[test]
fn truncated_content_length_body_is_response_incomplete() {
    let out = fetch_response_then_close(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
        &[],
    );
    out.assert_error(E::ResponseIncomplete, &["body"]);
}

// RFC 9112 §7.1 and §8: a chunked body without its last chunk is response_incomplete, whether
// cut between chunks, inside chunk data or inside the trailer section.
#[test]
fn truncated_chunked_body_is_response_incomplete() {
    for wire in [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-t: 1\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let out = fetch_response_then_close(wire, &[]);
        out.assert_error(E::ResponseIncomplete, &["body"]);
    }
}

// abi.md body_read ERRORS and "Truncation is an error" (RFC 9112 §6.3, §8): a connection that
// ends before the framed end, "EOF or reset", is response_incomplete (24); abi.md body_read
// NOTES: connection_terminated (18) cannot come from body_read. The server closes with request
// bytes unread, so the kernel sends a TCP RST instead of a FIN; this guards against returning
// 18 for a reset. The bytes before the reset are delivered first, then the sticky
// error.
#[test]
fn reset_in_the_middle_of_a_body_is_response_incomplete() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // Read only the first bytes of the request: the rest stays unread.
        let mut some = [0u8; 8];
        s.read_exact(&mut some).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            .unwrap();
        thread::sleep(Duration::from_millis(200));
        s.write_all(b"0123456789").unwrap();
        thread::sleep(Duration::from_millis(200));
        // Closing with unread input: RST, not FIN (RFC 9293 §3.6, "abort").
        drop(s);
    });
    let mut p = Proxy::new(ctx_allowing([origin.as_str()]));
    // Padding makes sure request bytes are still unread when the server closes.
    let (status, h) = p
        .req(
            &format!("{origin}/"),
            "GET",
            &format!("x-pad: {}", "p".repeat(64)),
            b"",
        )
        .unwrap();
    assert_eq!(status, 200);
    let (code, got) = p.read_body(h).unwrap_err();
    assert_code(code, E::ResponseIncomplete, "reset mid-body");
    assert_eq!(got, b"0123456789", "bytes before the reset are delivered");
    assert_code(p.body_read(h, 64).code, E::ResponseIncomplete, "sticky");
    assert_eq!(p.close(h), 0);
    server.join().unwrap();
}

// abi.md req ERRORS: the connection ending after the first response byte but before the end
// of the head is response_incomplete; before any byte it is connection_terminated.
#[test]
fn truncated_head_is_response_incomplete_and_no_response_is_terminated() {
    let out = fetch_response_then_close("HTTP/1.1 200 OK\r\nContent-Le", &[]);
    out.assert_error(E::ResponseIncomplete, &["req"]);
    let out = fetch_response_then_close("", &[]);
    out.assert_error(E::ConnectionTerminated, &["req"]);
}

// RFC 9112 §6.3 rule 3: Transfer-Encoding together with Content-Length is a smuggling vector;
// the host rejects the response as response_malformed.
#[test]
fn transfer_encoding_with_content_length_is_malformed() {
    let out = fetch_response(
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[],
    );
    out.assert_error(E::ResponseMalformed, &["req"]);
}

// abi.md "Body length" rules 2-4 (RFC 9112 §6.1, §6.3 rule 3): a Transfer-Encoding field is
// present even when its value is empty. With Content-Length it is response_malformed (32), the
// ambiguity request smuggling relies on; in HTTP/1.0 it is 32; alone, an empty list is not
// exactly `chunked`, so 33. This guards against ignoring the empty field and accepting the
// Content-Length body.
#[test]
fn empty_transfer_encoding_field_counts_as_present() {
    for wire in [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: \r\n\r\nhello",
    ] {
        let out = fetch_response_then_close(wire, &[]);
        out.assert_error(E::ResponseMalformed, &["req"]);
    }
    let out = fetch_response_then_close("HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\nhello", &[]);
    out.assert_error(E::ResponseTransferCodingUnsupported, &["req"]);
}

// RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 response is faulty framing.
#[test]
fn transfer_encoding_in_http10_is_malformed() {
    let out = fetch_response_then_close(
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[],
    );
    out.assert_error(E::ResponseMalformed, &["req"]);
}

// RFC 9112 §6.3 rule 5: differing or invalid Content-Length values are response_malformed.
#[test]
fn conflicting_or_invalid_content_length_is_malformed() {
    for cl in [
        "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: 5, 6",
        "Content-Length: -5",
        "Content-Length: 5x",
        "Content-Length: ",
        "Content-Length: +5",
        "Content-Length: 0x5",
        "Content-Length: 99999999999999999999999",
    ] {
        let out = fetch_response(format!("HTTP/1.1 200 OK\r\n{cl}\r\n\r\nhello"), &[]);
        out.assert_error(E::ResponseMalformed, &["req"]);
    }
}

// abi.md "Body length" rule 4: only exactly `chunked` is supported; any other coding, a chain
// or a repeated chunked is response_transfer_coding_unsupported.
#[test]
fn unknown_transfer_coding_is_unsupported() {
    for te in [
        "Transfer-Encoding: gzip",
        "Transfer-Encoding: gzip, chunked",
        "Transfer-Encoding: chunked, chunked",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: identity",
    ] {
        let out =
            fetch_response_then_close(format!("HTTP/1.1 200 OK\r\n{te}\r\n\r\n0\r\n\r\n"), &[]);
        out.assert_error(E::ResponseTransferCodingUnsupported, &["req"]);
    }
}

// RFC 9112 §5.1, §5.2, §2.2 (abi.md "Head syntax"): whitespace before ':', obs-fold, bare CR,
// and a CTL in a value are response_malformed.
#[test]
fn malformed_field_lines_are_malformed() {
    for line in [
        "X-A : b",
        "X-A: b\r\n continued",
        "X-A: b\rc",
        "X-A: b\0c",
        "X(A): b",
        "no colon",
    ] {
        let out = fetch_response(
            format!("HTTP/1.1 200 OK\r\n{line}\r\nContent-Length: 0\r\n\r\n"),
            &[],
        );
        out.assert_error(E::ResponseMalformed, &["req"]);
    }
    for status in [
        "HTTP/2 200 OK",
        "HTTP/1.1 20 OK",
        "HTTP/1.1 099 Low",
        // RFC 9110 §15: codes outside 100–599 are invalid.
        "HTTP/1.1 600 High",
        "HTTP/1.1 999",
        "http/1.1 200 OK",
        "HTTP/1.1 2000 OK",
    ] {
        let out = fetch_response(format!("{status}\r\nContent-Length: 0\r\n\r\n"), &[]);
        out.assert_error(E::ResponseMalformed, &["req"]);
    }
}

// RFC 9112 §2.2: a bare LF line ending is accepted.
#[test]
fn bare_lf_line_endings_are_accepted() {
    let out = fetch_response(
        "HTTP/1.1 200 OK\nContent-Length: 3\nX-A: b\n\nabc",
        &["--header", "x-a"],
    );
    assert_body(&out, "abc");
    assert_eq!(out.line_value("header x-a: "), Some("b"));
}

// ---------------------------------------------------------------------------------------------
// Header access (abi.md header_get, headers_get_all; RFC 9110 §5.3).

// RFC 9110 §5.3: several field lines with one name combine into one value joined with ", ",
// in order; names compare case-insensitively; values are trimmed.
#[test]
fn header_get_joins_repeated_fields_in_order() {
    let out = fetch_response(
        "HTTP/1.1 200 OK\r\nX-Multi: one\r\nContent-Length: 0\r\nx-multi:two  \r\nX-MULTI: \tthree\r\n\r\n",
        &["--header", "X-Multi", "--header", "x-absent"],
    );
    out.assert_success();
    assert_eq!(
        out.line_value("header X-Multi: "),
        Some("one, two, three"),
        "{out}"
    );
    assert_eq!(
        out.line_value("header x-absent: "),
        Some("error 5 header_not_found")
    );
}

// abi.md headers_get_all: every field line in order, name lowercased, `name:value\n`, values
// trimmed, repeated names on separate lines.
#[test]
fn headers_get_all_lists_lowercased_names_in_order() {
    let out = fetch_response(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Multi: one\r\nSet-Cookie: a=1\r\nx-MULTI:  two \r\nContent-Length: 0\r\n\r\n",
        &["--all-headers"],
    );
    out.assert_success();
    let block: Vec<&str> = out
        .stdout
        .lines()
        .skip_while(|l| *l != "headers:")
        .skip(1)
        .take_while(|l| !l.starts_with("body"))
        .collect();
    assert_eq!(
        block,
        [
            "content-type:text/plain",
            "x-multi:one",
            "set-cookie:a=1",
            "x-multi:two",
            "content-length:0"
        ],
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// Network failures and timeouts (abi.md "Timeouts and limits", req ERRORS).

// A port with no listener is connection_refused.
#[test]
fn closed_port_is_connection_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let origin = format!("http://127.0.0.1:{port}");
    let out = fetch(
        ctx_allowing([origin.clone()]),
        &["GET", &format!("{origin}/")],
    );
    out.assert_error(E::ConnectionRefused, &["req"]);
}

// abi.md "Address policy" Procedure: a name that does not resolve is dns_error (14).
#[test]
fn unresolvable_name_is_dns_error() {
    let origin = "http://unresolvable.test:8080";
    let out = fetch(ctx_allowing([origin]), &["GET", &format!("{origin}/")]);
    out.assert_error(E::DnsError, &["req"]);
}

// abi.md "Address policy": a name resolving to loopback is refused by the default policy
// (destination_ip_prohibited, 15) unless the allow-list names that address or `localhost`;
// AddressPolicy::AllowAll lifts it.
#[test]
fn name_resolving_to_loopback_is_destination_ip_prohibited() {
    let server = TestServer::echo();
    let origin = format!("http://internal.test:{}", server.port());
    let to_loopback =
        |_: &str, port: u16| Ok(vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))]);
    let ctx = ctx_builder([origin.clone()])
        .resolver(to_loopback)
        .build()
        .unwrap();
    let out = fetch(ctx, &["GET", &format!("{origin}/")]);
    out.assert_error(E::DestinationIpProhibited, &["req"]);
    server.assert_untouched();
    let ctx = ctx_builder([origin.clone()])
        .resolver(to_loopback)
        .address_policy(wasi_experimental_http_host::AddressPolicy::AllowAll)
        .build()
        .unwrap();
    let out = fetch(ctx, &["GET", &format!("{origin}/")]);
    out.assert_success();
    let r = server.wait_requests(1);
    assert_eq!(
        r[0].header("host"),
        Some(format!("internal.test:{}", server.port()).as_str())
    );
}

// A server that accepts but never answers is response_header_timeout after the configured
// time (and not much later).
#[test]
fn silent_server_is_response_header_timeout() {
    let server = TestServer::scripted(vec![Reply::new().sleep(Duration::from_secs(30))]);
    let ctx = ctx_allowing_with_timeouts([server.origin()], |t| {
        t.response_header = Duration::from_millis(500)
    });
    let start = std::time::Instant::now();
    let out = fetch(ctx, &["GET", &server.url("/")]);
    out.assert_error(E::ResponseHeaderTimeout, &["req"]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
}

// A body that stops flowing is idle_timeout.
#[test]
fn stalled_body_is_idle_timeout() {
    let server = TestServer::scripted(vec![
        Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            .sleep(Duration::from_secs(30)),
    ]);
    let ctx =
        ctx_allowing_with_timeouts([server.origin()], |t| t.idle = Duration::from_millis(500));
    let out = fetch(ctx, &["GET", &server.url("/")]);
    out.assert_error(E::IdleTimeout, &["body"]);
}

// abi.md body_read "Failed" state: bytes before the failure are delivered first, then the
// error, and every later call returns the same code (sticky); close still succeeds.
#[test]
fn body_errors_are_sticky_after_delivering_received_bytes() {
    let server = TestServer::scripted(vec![Reply::raw_then_close(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial",
    )]);
    let mut p = Proxy::new(ctx_allowing([server.origin()]));
    let (_, h) = p.get(&server.url("/"));
    let (code, got) = p.read_body(h).unwrap_err();
    assert_code(code, E::ResponseIncomplete, "first error");
    assert_eq!(got, b"partial");
    for _ in 0..3 {
        assert_code(p.body_read(h, 64).code, E::ResponseIncomplete, "sticky");
    }
    assert_eq!(p.close(h), 0);
}

// ---------------------------------------------------------------------------------------------
// Concurrency limit (abi.md "Handles"), with the `multi` guest.

// max_concurrent_requests counts open handles: with a limit of 3, the 4th open is
// too_many_sessions; all opened bodies still read fully; after closing, a new request works.
#[test]
fn concurrency_limit_counts_open_handles_and_close_frees_them() {
    let server = TestServer::echo();
    let ctx = ctx_builder([server.origin()])
        .max_concurrent_requests(3)
        .build()
        .unwrap();
    let url = server.url("/multi");
    let out = run_guest(&guest_wasm("tests/guests", "multi"), ctx, &[&url, "4"]);
    out.assert_success();
    let lines = out.lines();
    for i in 0..3 {
        assert!(
            lines.contains(&format!("open {i}: status 200").as_str()),
            "{out}"
        );
    }
    assert!(
        lines.contains(&"open 3: error 13 too_many_sessions"),
        "{out}"
    );
    let body_len = format!("GET /multi\nHost: 127.0.0.1:{}\n", server.port()).len();
    for i in 0..3 {
        assert!(
            lines.contains(&format!("read {i}: {body_len} bytes").as_str()),
            "{out}"
        );
    }
    assert!(lines.contains(&"after-close: status 200"), "{out}");
    // Three opens and the final request reached the server; the refused one did not.
    assert_eq!(server.requests().len(), 4);
}

// Up to the limit, every request is open at once.
#[test]
fn requests_up_to_the_limit_are_open_at_once() {
    let server = TestServer::echo();
    let ctx = ctx_builder([server.origin()])
        .max_concurrent_requests(5)
        .build()
        .unwrap();
    let out = run_guest(
        &guest_wasm("tests/guests", "multi"),
        ctx,
        &[&server.url("/"), "5"],
    );
    out.assert_success();
    for i in 0..5 {
        assert!(
            out.lines()
                .contains(&format!("open {i}: status 200").as_str()),
            "{out}"
        );
    }
    assert!(!out.stdout.contains("error"), "{out}");
    assert!(
        server.accepted() >= 5,
        "5 open responses need 5 connections"
    );
}
