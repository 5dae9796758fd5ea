//! Audit events (`HttpCtxBuilder::on_event`, `README.md` "For operators"): every `req` ends in
//! exactly one event, `denied` or `completed`, with the documented fields; nothing secret (header
//! values, query strings, bodies) reaches an event; the JSON form escapes everything; a
//! panicking or slow observer breaks nothing.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] fns: a panic is a failed test"
)]

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use e2e::abi::{Proxy, assert_code};
use e2e::ctx_builder;
use e2e::server::{Reply, TestServer};
use serde_json::Value;
use wasi_experimental_http_host::{
    DenyReason, ErrorCode, Event, EventKind, HttpCtx, HttpCtxBuilder,
};

/// The events an observer saw, as their JSON lines, parsed back. The observer's own checks
/// cannot fail the test from inside (the host catches an observer's panic), so a failed check
/// is recorded and raised by [`Recorder::take`].
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Value>>>, Arc<Mutex<Vec<String>>>);

impl Recorder {
    fn observe(&self, builder: HttpCtxBuilder) -> HttpCtxBuilder {
        let (seen, failures) = (self.0.clone(), self.1.clone());
        builder.on_event(move |e: &Event<'_>| {
            let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_event(e)));
            match checked {
                Ok(v) => seen.lock().unwrap().push(v),
                Err(panic) => failures.lock().unwrap().push(
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "observer check failed".into()),
                ),
            }
        })
    }

    fn take(&self) -> Vec<Value> {
        let failures = self.1.lock().unwrap();
        assert!(failures.is_empty(), "observer checks failed: {failures:#?}");
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The only event recorded since the last call.
    #[track_caller]
    fn one(&self) -> Value {
        let mut all = self.take();
        assert_eq!(all.len(), 1, "expected one event, got {all:#?}");
        all.pop().unwrap()
    }
}

/// The JSON line of an event, parsed, after checking it says what the typed event says.
fn check_event(e: &Event<'_>) -> Value {
    let line = e.to_json();
    assert!(!line.contains('\n'), "one line per event: {line}");
    let v: Value =
        serde_json::from_str(&line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
    // The JSON says what the typed event says.
    match &e.kind {
        EventKind::Denied(d) => {
            assert_eq!(v["event"], "denied");
            assert_eq!(v["code"], d.code.code());
            assert_eq!(v["reason"], d.reason.name());
        }
        EventKind::Completed(c) => {
            assert_eq!(v["event"], "completed");
            assert_eq!(v["code"], c.code.code());
            assert_eq!(v["path"], c.path);
            assert_eq!(v["received_bytes"], c.received_bytes);
        }
        _ => panic!("unknown event kind"),
    }
    assert_eq!(v["request_id"], e.request_id);
    v
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn every_request_ends_in_exactly_one_event_with_its_outcome() {
    let server = TestServer::echo();
    let dead = closed_port();
    let rec = Recorder::default();
    let ctx = rec
        .observe(ctx_builder([
            server.origin(),
            format!("http://127.0.0.1:{dead}"),
        ]))
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    p.ctx().set_label("tenant", "acme");
    p.ctx().set_label("env", "test");
    p.ctx().set_label("tenant", "acme-2");

    // Completed, new connection: emitted at close, not before.
    let url = server.url("/a/b?token=s3cr3t-query");
    let (status, h) = p
        .req(&url, "GET", "authorization: Bearer s3cr3t-header\n", b"")
        .unwrap();
    assert_eq!(status, 200);
    let body = p.read_body(h).unwrap();
    assert!(rec.take().is_empty(), "no event before the response ends");
    assert_eq!(p.close(h), 0);
    let e = rec.one();
    assert_eq!(e["event"], "completed");
    assert_eq!(e["origin"], server.origin());
    assert_eq!(e["method"], "GET");
    assert_eq!(e["path"], "/a/b", "query dropped by default");
    assert_eq!(e["status"], 200);
    assert_eq!(e["code"], 0);
    assert_eq!(e["code_name"], "success");
    assert_eq!(e["received_bytes"], body.len() as u64);
    assert_eq!(e["reused"], false);
    assert_eq!(e["body_complete"], true);
    assert!(e["dns_us"].is_null(), "IP literal: no DNS");
    assert!(e["connect_us"].is_u64());
    assert!(e["tls_us"].is_null(), "http: no TLS");
    assert!(e["head_us"].is_u64() && e["body_us"].is_u64());
    assert_eq!(
        e["labels"],
        serde_json::json!({"tenant": "acme-2", "env": "test"}),
        "labels in the order first set, replaced in place"
    );
    let line = e.to_string();
    assert!(!line.contains("s3cr3t"), "no header value or query: {line}");
    // What was sent: the request line, the host's and the guest's fields, no body.
    let sent = e["sent_bytes"].as_u64().unwrap();
    let line_len = "GET /a/b?token=s3cr3t-query HTTP/1.1\r\n".len() as u64;
    assert!(sent > line_len + "authorization: Bearer s3cr3t-header\r\n".len() as u64);
    let first_id = e["request_id"].as_u64().unwrap();

    // Completed on the pooled connection; a POST body counts in sent_bytes.
    let (_, h) = p
        .req(&server.url("/echo"), "POST", "", &[7u8; 1000])
        .unwrap();
    assert_eq!(p.read_body(h).unwrap().len(), 1000);
    assert_eq!(p.close(h), 0);
    let e = rec.one();
    assert_eq!(e["reused"], true);
    assert!(e["connect_us"].is_null() && e["dns_us"].is_null());
    assert_eq!(e["method"], "POST");
    assert_eq!(e["received_bytes"], 1000);
    assert!(e["sent_bytes"].as_u64().unwrap() > 1000);
    assert!(e["request_id"].as_u64().unwrap() > first_id, "ids increase");

    // Denied by the allow-list, before anything was sent.
    let accepted = server.accepted();
    let code = p
        .req("http://127.0.0.2:9/x", "DELETE", "", b"")
        .unwrap_err();
    assert_code(code, ErrorCode::DestinationNotAllowed, "denied origin");
    let e = rec.one();
    assert_eq!(e["event"], "denied");
    assert_eq!(e["reason"], "allow_list");
    assert_eq!(e["origin"], "http://127.0.0.2:9");
    assert_eq!(e["method"], "DELETE");
    assert_eq!(e["code"], 7);
    assert_eq!(e["code_name"], "destination_not_allowed");
    assert!(e.get("path").is_none(), "a denied event has no path");

    // Denied by a validation rule: an invalid URL has no origin in the event.
    let code = p.req("http://exa mple/\n", "GET", "", b"").unwrap_err();
    assert_code(code, ErrorCode::InvalidUrl, "invalid URL");
    let e = rec.one();
    assert_eq!(
        (e["reason"].as_str(), e["code"].as_u64()),
        (Some("invalid"), Some(10))
    );
    assert!(e["origin"].is_null());
    assert_eq!(e["method"], "GET");
    // A forbidden header: the name is the guest's fault, the event says invalid.
    let code = p
        .req(&server.url("/"), "GET", "host: evil\n", b"")
        .unwrap_err();
    assert_code(code, ErrorCode::ForbiddenHeader, "host header");
    assert_eq!(rec.one()["reason"], "invalid");
    assert_eq!(server.accepted(), accepted, "nothing sent for the refusals");

    // Failed on the network: completed, without a status, with the error's code.
    let code = p
        .req(&format!("http://127.0.0.1:{dead}/down"), "GET", "", b"")
        .unwrap_err();
    assert_code(code, ErrorCode::ConnectionRefused, "closed port");
    let e = rec.one();
    assert_eq!(e["event"], "completed");
    assert!(e["status"].is_null());
    assert_eq!(e["code"], 16);
    assert_eq!(e["path"], "/down");
    assert_eq!(e["body_complete"], false);
    assert!(e["head_us"].is_null());

    // Closed without reading the body: success, body not complete.
    let (_, h) = p.get(&server.url("/unread"));
    assert_eq!(p.close(h), 0);
    let e = rec.one();
    assert_eq!(
        (e["code"].as_u64(), e["body_complete"].as_bool()),
        (Some(0), Some(false))
    );

    // A response still open when the store goes away is reported then.
    let (_, _open) = p.get(&server.url("/left-open"));
    assert!(rec.take().is_empty());
    drop(p);
    let e = rec.one();
    assert_eq!(e["path"], "/left-open");
    assert_eq!(e["code"], 0);
}

#[test]
fn a_body_failure_is_reported_when_it_happens_and_only_once() {
    let server = TestServer::scripted(vec![Reply::raw_then_close(
        "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly-part",
    )]);
    let rec = Recorder::default();
    let mut p = Proxy::new(rec.observe(ctx_builder([server.origin()])).build().unwrap());
    let (_, h) = p.get(&server.url("/cut"));
    let (code, got) = p.read_body(h).unwrap_err();
    assert_code(code, ErrorCode::ResponseIncomplete, "truncated body");
    let e = rec.one();
    assert_eq!(e["code"], 24);
    assert_eq!(e["status"], 200);
    assert_eq!(e["received_bytes"], got.len() as u64);
    assert_eq!(e["body_complete"], false);
    // The sticky code again, then close: no second event.
    assert_eq!(p.body_read(h, 16).code, code);
    assert_eq!(p.close(h), 0);
    assert!(rec.take().is_empty());
}

#[test]
fn an_address_the_policy_refuses_is_a_denial_naming_the_address() {
    let server = TestServer::echo();
    let rec = Recorder::default();
    // A name that resolves to loopback: the default address policy refuses it (DNS rebinding).
    let builder = HttpCtx::builder()
        .allowed_hosts([format!("http://rebind.test:{}", server.port())])
        .timeouts(e2e::test_timeouts())
        .resolver(|_, port| Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]));
    let mut p = Proxy::new(rec.observe(builder).build().unwrap());
    let code = p
        .req(
            &format!("http://rebind.test:{}/x", server.port()),
            "GET",
            "",
            b"",
        )
        .unwrap_err();
    assert_code(code, ErrorCode::DestinationIpProhibited, "rebinding");
    let e = rec.one();
    assert_eq!(e["event"], "denied");
    assert_eq!(e["reason"], "address");
    assert_eq!(e["address"], "127.0.0.1");
    assert_eq!(e["origin"], format!("http://rebind.test:{}", server.port()));
    assert_eq!(server.accepted(), 0);
}

#[test]
fn the_concurrency_limit_and_an_interrupt_are_denials() {
    let server = TestServer::echo();
    let rec = Recorder::default();
    let builder = rec.observe(ctx_builder([server.origin()]).max_concurrent_requests(1));
    let mut p = Proxy::new(builder.build().unwrap());
    let (_, h) = p.get(&server.url("/1"));
    let code = p.req(&server.url("/2"), "GET", "", b"").unwrap_err();
    assert_code(code, ErrorCode::TooManySessions, "limit");
    let e = rec.one();
    assert_eq!(
        (e["reason"].as_str(), e["code"].as_u64()),
        (Some("limit"), Some(13))
    );
    assert_eq!(p.close(h), 0);
    rec.take();
    p.ctx().interrupt_handle().interrupt();
    let code = p.req(&server.url("/3"), "GET", "", b"").unwrap_err();
    assert_code(code, ErrorCode::Interrupted, "interrupted");
    let e = rec.one();
    assert_eq!(
        (e["reason"].as_str(), e["code"].as_u64()),
        (Some("interrupted"), Some(36))
    );
}

#[test]
fn the_query_is_shown_only_when_the_embedder_asks() {
    let server = TestServer::echo();
    let rec = Recorder::default();
    let builder = rec
        .observe(ctx_builder([server.origin()]))
        .audit_query(true);
    let mut p = Proxy::new(builder.build().unwrap());
    let (_, h) = p.get(&server.url("/q?a=1&b=2"));
    assert_eq!(p.close(h), 0);
    assert_eq!(rec.one()["path"], "/q?a=1&b=2");
}

#[test]
fn labels_and_hostile_strings_are_escaped_into_one_valid_line() {
    let server = TestServer::echo();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let ctx = ctx_builder([server.origin()])
        .on_event(move |e| seen.lock().unwrap().push(e.to_json()))
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    let hostile = "x\"}\n{\"event\":\"forged\\\u{0}\u{1b}[31m\u{2028}é";
    p.ctx().set_label(hostile, hostile);
    let (_, h) = p.get(&server.url("/%22%0A"));
    assert_eq!(p.close(h), 0);
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert!(
        !line.contains('\n') && !line.contains('\u{1b}') && !line.contains('\u{2028}'),
        "{line}"
    );
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["labels"][hostile], hostile, "round-trips exactly");
    assert_eq!(v["path"], "/%22%0A");
}

#[test]
fn a_panicking_observer_loses_its_event_and_breaks_nothing() {
    let server = TestServer::echo();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ctx = ctx_builder([server.origin()])
        .on_event(move |_| {
            c.fetch_add(1, Ordering::Relaxed);
            panic!("observer bug");
        })
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    for i in 0..3 {
        let (status, h) = p.get(&server.url(&format!("/{i}")));
        assert_eq!(status, 200);
        assert!(!p.read_body(h).unwrap().is_empty());
        assert_eq!(p.close(h), 0);
    }
    let code = p.req("http://127.0.0.2:9/", "GET", "", b"").unwrap_err();
    assert_code(code, ErrorCode::DestinationNotAllowed, "still decided");
    assert_eq!(calls.load(Ordering::Relaxed), 4);
    assert_eq!(p.ctx().lost_events(), 4);
    // The connection was still pooled and reused.
    assert_eq!(server.accepted(), 1);
}

#[test]
fn a_slow_observer_delays_only_the_request_it_reports() {
    let server = TestServer::echo();
    let ctx = ctx_builder([server.origin()])
        .on_event(|e| {
            if e.labels.iter().any(|(k, v)| k == "tenant" && v == "slow") {
                thread::sleep(Duration::from_millis(1500));
            }
        })
        .build()
        .unwrap();
    let mut fast = ctx.new_sibling();
    fast.set_label("tenant", "fast");
    let mut slow = ctx;
    slow.set_label("tenant", "slow");
    let origin = server.url("/");
    let slow_thread = thread::spawn(move || {
        let mut p = Proxy::new(slow);
        let (_, h) = p.get(&origin);
        let began = Instant::now();
        assert_eq!(p.close(h), 0); // blocks in the observer
        began.elapsed()
    });
    // Let the slow store reach its observer, then time the fast store's requests.
    thread::sleep(Duration::from_millis(300));
    let mut p = Proxy::new(fast);
    let began = Instant::now();
    for i in 0..5 {
        let (_, h) = p.get(&server.url(&format!("/{i}")));
        p.read_body(h).unwrap();
        assert_eq!(p.close(h), 0);
    }
    let fast_took = began.elapsed();
    let slow_took = slow_thread.join().unwrap();
    assert!(slow_took >= Duration::from_millis(1400), "{slow_took:?}");
    assert!(
        fast_took < Duration::from_millis(1000),
        "the sibling waited on the slow observer: {fast_took:?}"
    );
}

#[test]
fn deny_reasons_have_stable_names() {
    let names: Vec<&str> = [
        DenyReason::AllowList,
        DenyReason::Address(std::net::Ipv4Addr::LOCALHOST.into()),
        DenyReason::Limit,
        DenyReason::Invalid,
        DenyReason::Interrupted,
        DenyReason::Internal,
    ]
    .iter()
    .map(|r| r.name())
    .collect();
    assert_eq!(
        names,
        [
            "allow_list",
            "address",
            "limit",
            "invalid",
            "interrupted",
            "internal"
        ]
    );
}

/// A `Write` into a shared buffer, for a `JsonLinesLog`.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `audit_log` and `on_event` together: the log (fed the requests' records, formatted on its
/// own thread) writes exactly the lines the callback sees through `Event::to_json`, in order,
/// for completed requests, a refusal by the allow-list and one by the address policy after
/// resolution; a panicking callback misses its event and the log still gets it.
#[test]
fn the_audit_log_writes_what_a_callback_sees_even_when_the_callback_panics() {
    let server = TestServer::echo();
    let sink = Sink::default();
    let log = wasi_experimental_http_host::JsonLinesLog::new(sink.clone()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let callback = |seen: Arc<Mutex<Vec<String>>>| {
        move |e: &Event<'_>| {
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push(e.to_json());
                seen.len()
            };
            if n == 2 {
                panic!("callback bug");
            }
        }
    };
    let ctx = ctx_builder([server.origin()])
        .audit_log(&log)
        .on_event(callback(seen.clone()))
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    for i in 0..2 {
        let (status, h) = p.get(&server.url(&format!("/{i}?token=secret")));
        assert_eq!(status, 200);
        p.read_body(h).unwrap();
        assert_eq!(p.close(h), 0);
    }
    let code = p.req("http://127.0.0.2:9/", "GET", "", b"").unwrap_err();
    assert_code(code, ErrorCode::DestinationNotAllowed, "allow-list");
    assert_eq!(p.ctx().lost_events(), 1);
    // Refused after resolution: the request's record becomes a denial without its path.
    let rebind = HttpCtx::builder()
        .allowed_hosts([format!("http://rebind.test:{}", server.port())])
        .timeouts(e2e::test_timeouts())
        .resolver(|_, port| Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]))
        .audit_log(&log)
        .on_event(callback(seen.clone()))
        .build()
        .unwrap();
    let mut q = Proxy::new(rebind);
    let url = format!("http://rebind.test:{}/a/long/path", server.port());
    let code = q.req(&url, "GET", "", b"").unwrap_err();
    assert_code(code, ErrorCode::DestinationIpProhibited, "rebinding");
    drop((p, q));
    drop(log); // waits until every queued line is written
    let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let written: Vec<&str> = written.lines().collect();
    let seen = seen.lock().unwrap();
    assert_eq!(written.len(), 4, "{written:#?}");
    assert_eq!(written, *seen, "the log and the callback disagree");
    let last: Value = serde_json::from_str(written[3]).unwrap();
    assert_eq!(last["event"], "denied");
    assert_eq!(last["reason"], "address");
    assert!(last.get("path").is_none(), "a denial has no path: {last}");
    assert_eq!(server.accepted(), 1);
}

/// A guest looping on one refused call (issue: a million denials wrote a million lines) writes
/// a bounded number of lines: the first denial alone, then its repeats counted into one event
/// at the next different event (here an admitted request), at the first repeat after a second,
/// and when the store is dropped. The counts add up to the calls: none goes unrecorded.
#[test]
fn a_guest_looping_on_a_denied_call_writes_few_lines_and_counts_every_call() {
    let server = TestServer::echo();
    let sink = Sink::default();
    let log = wasi_experimental_http_host::JsonLinesLog::new(sink.clone()).unwrap();
    let mut p = Proxy::new(
        ctx_builder([server.origin()])
            .audit_log(&log)
            .build()
            .unwrap(),
    );
    const CALLS: u64 = 20_000;
    let start = Instant::now();
    for _ in 0..CALLS {
        let code = p.req("http://127.0.0.2:9/x", "GET", "", b"").unwrap_err();
        assert_code(code, ErrorCode::DestinationNotAllowed, "denied origin");
    }
    let elapsed = start.elapsed();
    // An admitted request ends the run of repeats; then more of the same denial, until drop.
    let (_, h) = p.get(&server.url("/ok"));
    assert_eq!(p.close(h), 0);
    for _ in 0..5 {
        p.req("http://127.0.0.2:9/x", "GET", "", b"").unwrap_err();
    }
    drop(p);
    drop(log);
    let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let denials: Vec<&Value> = lines.iter().filter(|e| e["event"] == "denied").collect();
    // One line for the first, one per second of repeats (and the last partial second), then
    // the second run's first and its repeats.
    let bound = 2 + elapsed.as_secs() as usize + 1 + 2;
    assert!(
        denials.len() <= bound,
        "{} denial lines for {CALLS} calls in {elapsed:?}: {written}",
        denials.len()
    );
    assert_eq!(denials[0]["count"], 1, "the first denial is written alone");
    for e in &denials {
        assert_eq!(e["origin"], "http://127.0.0.2:9");
        assert_eq!(e["reason"], "allow_list");
    }
    let counted: u64 = denials.iter().map(|e| e["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, CALLS + 5, "every call is counted");
    assert_eq!(
        lines.iter().filter(|e| e["event"] == "completed").count(),
        1
    );
    // The run before the admitted request is written before the next run's first line.
    let completed_at = lines
        .iter()
        .position(|e| e["event"] == "completed")
        .unwrap();
    let before: u64 = lines[..completed_at]
        .iter()
        .map(|e| e["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(before, CALLS);
}
