//! The embedder's controls over a store blocked in HTTP (abi.md, "Interrupts and the
//! embedder's deadline"): an interrupt ends every network wait within 50 ms and makes later
//! calls fail fast until cleared; the store-wide deadline caps every phase.
//!
//! `cargo test -p e2e --test end_to_end -- control:: --nocapture` prints the measured interrupt latency of
//! each phase.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test servers and helpers outside #[test] fns: a panic is a failed test"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use e2e::abi::{BUF_MAX, Proxy, assert_code};
use e2e::guests::guest_wasm;
use e2e::run::{load_module, run_guest};
use e2e::server::TestServer;
use e2e::{ctx_allowing, ctx_builder};
use wasi_experimental_http_host::{ErrorCode, HttpCtx};

fn fetch_wasm() -> PathBuf {
    let wasm = guest_wasm("tests/guests", "fetch");
    // Compiled here, so that a timed run spends no time compiling.
    load_module(&wasm);
    wasm
}

/// What a stalling server does with each connection before it goes silent for good.
#[derive(Clone, Copy)]
enum Stall {
    /// Accepts and reads, never writes: a TLS client waits for the ServerHello.
    Silent,
    /// Reads the request head, then writes these bytes.
    Answer(&'static [u8]),
}

/// A loopback server that never finishes: it keeps every connection open, and can tell whether
/// the client closed one.
struct StallServer {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl StallServer {
    fn start(stall: Stall) -> StallServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let conns = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (conns.clone(), stop.clone());
        thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(2));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                if let Stall::Answer(bytes) = stall {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                        head.push(byte[0]);
                    }
                    stream.write_all(bytes).unwrap();
                }
                c.lock().unwrap().push(stream);
            }
        });
        StallServer { addr, conns, stop }
    }

    fn origin(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    fn accepted(&self) -> usize {
        self.conns.lock().unwrap().len()
    }

    /// Whether the client closed connection `i` (within `within`).
    fn closed_by_client(&self, i: usize, within: Duration) -> bool {
        let mut stream = self.conns.lock().unwrap()[i].try_clone().unwrap();
        stream.set_read_timeout(Some(within)).unwrap();
        let mut buf = [0u8; 64];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue, // e.g. a TLS alert before the close
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

impl Drop for StallServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Runs `call` on a proxy instance of `ctx` on another thread, interrupts the store once
/// `blocked()` says the call waits in the phase under test, and returns the call's code and the
/// time from `interrupt()` to the call's return (measured on the calling thread, so guest and
/// store teardown do not count).
fn interrupted_call(
    ctx: HttpCtx,
    call: impl FnOnce(&mut Proxy) -> i32 + Send + 'static,
    blocked: impl Fn() -> bool,
) -> (i32, Duration) {
    let handle = ctx.interrupt_handle();
    let run = thread::spawn(move || {
        let mut proxy = Proxy::new(ctx);
        let code = call(&mut proxy);
        (code, Instant::now())
    });
    let give_up = Instant::now() + Duration::from_secs(10);
    while !blocked() {
        assert!(
            Instant::now() < give_up,
            "the call never reached the phase under test"
        );
        thread::sleep(Duration::from_millis(5));
    }
    // Well inside the phase's wait (every timeout is seconds away).
    thread::sleep(Duration::from_millis(200));
    assert!(!run.is_finished(), "the call must still be blocked");
    let t0 = Instant::now();
    handle.interrupt();
    let (code, returned) = run.join().unwrap();
    (code, returned.saturating_duration_since(t0))
}

/// `req` of a GET, as a code.
fn get_code(url: String) -> impl FnOnce(&mut Proxy) -> i32 + Send + 'static {
    move |p| p.req(&url, "GET", "", b"").err().unwrap_or(0)
}

/// A listener whose accept queue is full, so that a connect to it hangs (the kernel drops the
/// SYN); the returned streams keep the queue full.
#[cfg(target_os = "linux")]
fn hanging_listener() -> (TcpListener, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // Re-listening changes the backlog: 0 lets one connection wait, then SYNs are dropped.
    rustix::net::listen(&listener, 0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => return (listener, fillers),
        }
    }
    panic!("could not fill the accept queue of {addr}");
}

#[test]
fn interrupt_ends_every_blocked_wait_within_50ms() {
    let limit = Duration::from_millis(50);
    let mut report = Vec::new();
    let interrupted = ErrorCode::Interrupted;

    // Connect (Linux: the connect is non-blocking and polled in slices). The resolver hook
    // says when the call is past resolution; the listener's full accept queue holds it there.
    #[cfg(target_os = "linux")]
    {
        let (listener, _fillers) = hanging_listener();
        let addr = listener.local_addr().unwrap();
        let resolved = Arc::new(AtomicBool::new(false));
        let r = resolved.clone();
        let ctx = ctx_builder([format!("http://localhost:{}", addr.port())])
            .resolver(move |_, _| {
                r.store(true, Ordering::SeqCst);
                Ok(vec![addr])
            })
            .build()
            .unwrap();
        let url = format!("http://localhost:{}/", addr.port());
        let (code, latency) =
            interrupted_call(ctx, get_code(url), || resolved.load(Ordering::SeqCst));
        assert_code(code, interrupted, "connect");
        report.push(("connect", latency));
    }

    // TLS handshake: the server accepts and reads the ClientHello, never answers.
    let server = StallServer::start(Stall::Silent);
    let origin = server.origin("https");
    let ctx = ctx_allowing([origin.as_str()]);
    let (code, latency) = interrupted_call(ctx, get_code(format!("{origin}/")), || {
        server.accepted() > 0
    });
    assert_code(code, interrupted, "TLS handshake");
    assert!(server.closed_by_client(0, Duration::from_secs(2)));
    report.push(("TLS handshake", latency));

    // Waiting for the head: the server reads the request and never answers.
    let server = StallServer::start(Stall::Answer(b""));
    let origin = server.origin("http");
    let ctx = ctx_allowing([origin.as_str()]);
    let (code, latency) = interrupted_call(ctx, get_code(format!("{origin}/")), || {
        server.accepted() > 0
    });
    assert_code(code, interrupted, "response head");
    assert!(server.closed_by_client(0, Duration::from_secs(2)));
    report.push(("response head", latency));

    // Mid-body: 10 of 100000 bytes, then silence. The first body_read returns the 10 bytes;
    // the second waits.
    let server = StallServer::start(Stall::Answer(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789",
    ));
    let origin = server.origin("http");
    let ctx = ctx_allowing([origin.as_str()]);
    let url = format!("{origin}/");
    let (code, latency) = interrupted_call(
        ctx,
        move |p| {
            let (_, h) = p.get(&url);
            assert_eq!(p.body_read(h, BUF_MAX).data, b"0123456789");
            p.body_read(h, BUF_MAX).code
        },
        || server.accepted() > 0,
    );
    assert_code(code, interrupted, "body");
    assert!(
        server.closed_by_client(0, Duration::from_secs(2)),
        "an interrupted connection is closed, not pooled"
    );
    report.push(("body", latency));

    for (phase, latency) in &report {
        eprintln!(
            "interrupt latency, {phase}: {:.1} ms",
            latency.as_secs_f64() * 1e3
        );
    }
    for (phase, latency) in report {
        assert!(latency < limit, "{phase}: the interrupt took {latency:?}");
    }
}

/// The fetch guest sees the code too, with its name (the guest crate knows code 36).
#[test]
fn a_guest_blocked_in_req_sees_interrupted() {
    let wasm = fetch_wasm();
    let server = StallServer::start(Stall::Answer(b""));
    let origin = server.origin("http");
    let ctx = ctx_allowing([origin.as_str()]);
    let handle = ctx.interrupt_handle();
    let url = format!("{origin}/");
    let run = thread::spawn(move || run_guest(&wasm, ctx, &["GET", &url]));
    while server.accepted() == 0 {
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(100));
    handle.interrupt();
    run.join()
        .unwrap()
        .assert_error(ErrorCode::Interrupted, &["req"]);
}

#[test]
fn an_interrupted_store_fails_fast_until_cleared() {
    let server = TestServer::echo();
    let url = server.url("/echo");
    let ctx = ctx_allowing([server.origin()]);
    let sibling = ctx.new_sibling();
    let mut proxy = Proxy::new(ctx);
    let (status, open) = proxy.get(&url);
    assert_eq!(status, 200);
    let accepted = server.accepted();

    let handle = proxy.ctx().interrupt_handle();
    handle.interrupt();
    assert!(handle.is_interrupted());
    // req and body_read refuse at once; nothing reaches the server.
    let started = Instant::now();
    let err = proxy.req(&url, "GET", "", b"").unwrap_err();
    assert_code(err, ErrorCode::Interrupted, "req while interrupted");
    assert_code(
        proxy.body_read(open, BUF_MAX).code,
        ErrorCode::Interrupted,
        "body_read while interrupted",
    );
    assert!(started.elapsed() < Duration::from_millis(50));
    assert_eq!(
        server.accepted(),
        accepted,
        "an interrupted store sends nothing"
    );
    // The calls that never wait keep working.
    assert_code(
        proxy.header_get(open, b"content-type", 256).code,
        ErrorCode::Success,
        "header_get",
    );
    assert_code(
        proxy.headers_get_all(open, BUF_MAX).code,
        ErrorCode::Success,
        "headers_get_all",
    );
    // A sibling store is not interrupted.
    let mut other = Proxy::new(sibling);
    assert_eq!(other.get(&url).0, 200);

    // Cleared: the untouched response reads on, and new requests go out.
    proxy.ctx().clear_interrupt();
    assert!(!handle.is_interrupted());
    assert!(proxy.read_body(open).is_ok());
    assert_eq!(proxy.close(open), 0);
    let (status, h) = proxy.get(&url);
    assert_eq!(status, 200);
    assert_eq!(proxy.close(h), 0);

    // close works while interrupted, and frees the handle.
    let (_, h) = proxy.get(&url);
    handle.interrupt();
    assert_eq!(proxy.close(h), 0);
    handle.clear();
}

#[test]
fn an_interrupted_body_stays_failed_and_its_connection_is_closed() {
    let server = StallServer::start(Stall::Answer(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
    ));
    let mut proxy = Proxy::new(ctx_allowing([server.origin("http")]));
    let (status, h) = proxy.get(&format!("{}/", server.origin("http")));
    assert_eq!(status, 200);
    let first = proxy.body_read(h, BUF_MAX);
    assert_eq!((first.code, first.data.as_slice()), (0, &b"0123456789"[..]));
    let handle = proxy.ctx().interrupt_handle();
    let interrupter = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        handle.interrupt();
        handle
    });
    assert_code(
        proxy.body_read(h, BUF_MAX).code,
        ErrorCode::Interrupted,
        "blocked body_read",
    );
    let handle = interrupter.join().unwrap();
    handle.clear();
    // Sticky, even after clear: the connection is gone.
    assert_code(
        proxy.body_read(h, BUF_MAX).code,
        ErrorCode::Interrupted,
        "after clear",
    );
    assert_eq!(proxy.ctx().idle_connections(), 0);
    assert!(server.closed_by_client(0, Duration::from_secs(2)));
}

#[test]
fn the_embedders_deadline_caps_every_phase() {
    let wasm = fetch_wasm();
    // Waiting for the head, with every timeout a minute away.
    let server = StallServer::start(Stall::Answer(b""));
    let origin = server.origin("http");
    let mut ctx = ctx_allowing([origin.as_str()]);
    let started = Instant::now();
    ctx.set_deadline(Some(started + Duration::from_millis(300)));
    let out = run_guest(&wasm, ctx, &["GET", &format!("{origin}/")]);
    out.assert_error(ErrorCode::DeadlineExceeded, &["req"]);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_secs(5),
        "{took:?}"
    );

    // Reading the body of a response that is already open: the deadline set after `req`
    // applies to it.
    let server = StallServer::start(Stall::Answer(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
    ));
    let mut proxy = Proxy::new(ctx_allowing([server.origin("http")]));
    let (_, h) = proxy.get(&format!("{}/", server.origin("http")));
    let started = Instant::now();
    proxy
        .ctx()
        .set_deadline(Some(started + Duration::from_millis(300)));
    assert_eq!(
        proxy.ctx().deadline(),
        Some(started + Duration::from_millis(300))
    );
    let err = proxy.read_body(h).unwrap_err();
    assert_code(
        err.0,
        ErrorCode::DeadlineExceeded,
        "body past the embedder's deadline",
    );
    assert_eq!(
        err.1, b"0123456789",
        "bytes before the deadline are delivered"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_secs(5),
        "{took:?}"
    );

    // Removing the cap: a new request waits for its own timeouts again (here a 500 ms
    // response-header timeout).
    let server = StallServer::start(Stall::Answer(b""));
    let origin = server.origin("http");
    let mut ctx: HttpCtx = ctx_builder([origin.as_str()])
        .timeouts(wasi_experimental_http_host::Timeouts {
            response_header: Duration::from_millis(500),
            ..e2e::test_timeouts()
        })
        .build()
        .unwrap();
    // A cap already in the past would fail the request at once with 23.
    ctx.set_deadline(Some(Instant::now()));
    ctx.set_deadline(None);
    let started = Instant::now();
    let out = run_guest(&wasm, ctx, &["GET", &format!("{origin}/")]);
    out.assert_error(ErrorCode::ResponseHeaderTimeout, &["req"]);
    assert!(started.elapsed() >= Duration::from_millis(490));
}

/// A sink whose writes block until the test opens it, keeping what it got.
#[derive(Clone, Default)]
struct StalledSink {
    open: Arc<(Mutex<bool>, std::sync::Condvar)>,
    got: Arc<Mutex<Vec<u8>>>,
}

impl Write for StalledSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let (open, cv) = &*self.open;
        let mut o = open.lock().unwrap();
        while !*o {
            o = cv.wait(o).unwrap();
        }
        self.got.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// With the audit log's sink stalled and its queue full, a call waiting for room ends within
/// 50 ms of an interrupt (`interrupted`, 36) and at the store's deadline (`deadline_exceeded`,
/// 23), as a network wait does; no event queued before is lost, and neither are those of the
/// calls that gave up.
#[test]
fn a_stalled_audit_log_yields_to_the_interrupt_and_the_deadline() {
    let sink = StalledSink::default();
    let log = wasi_experimental_http_host::JsonLinesLog::new(sink.clone()).unwrap();
    let ctx = ctx_builder(["http://127.0.0.1:1"])
        .audit_log(&log)
        .build()
        .unwrap();
    // A sibling fills the queue with distinct denials (distinct origins are not coalesced)
    // until it waits for room itself.
    const FILL: u32 = 10_000;
    let sent = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let filler = {
        let (sibling, sent) = (ctx.new_sibling(), sent.clone());
        thread::spawn(move || {
            let mut p = Proxy::new(sibling);
            for port in 1..=FILL {
                let url = format!("http://127.0.0.2:{port}/");
                p.req(&url, "GET", "", b"").unwrap_err();
                sent.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let mut last = u32::MAX;
    while sent.load(Ordering::SeqCst) != last {
        last = sent.load(Ordering::SeqCst);
        thread::sleep(Duration::from_millis(300));
    }
    assert!(
        last < FILL,
        "the queue never filled: {last} calls went through"
    );

    let mut p = Proxy::new(ctx);
    let handle = p.ctx().interrupt_handle();
    let interrupter = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        handle.interrupt();
        Instant::now()
    });
    let code = p.req("http://127.0.0.3:1/", "GET", "", b"").unwrap_err();
    let returned = Instant::now();
    let interrupted_at = interrupter.join().unwrap();
    assert_code(
        code,
        ErrorCode::Interrupted,
        "waiting for room, interrupted",
    );
    let latency = returned.saturating_duration_since(interrupted_at);
    assert!(
        latency < Duration::from_millis(50),
        "returned {latency:?} after the interrupt"
    );

    p.ctx().clear_interrupt();
    let start = Instant::now();
    p.ctx()
        .set_deadline(Some(start + Duration::from_millis(200)));
    let code = p.req("http://127.0.0.3:2/", "GET", "", b"").unwrap_err();
    let waited = start.elapsed();
    assert_code(
        code,
        ErrorCode::DeadlineExceeded,
        "waiting for room, deadline",
    );
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_millis(260),
        "returned {waited:?} after a deadline of 200 ms"
    );

    {
        let (open, cv) = &*sink.open;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
    filler.join().unwrap();
    drop(p);
    drop(log);
    let got = String::from_utf8(sink.got.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), FILL as usize + 2, "an event was lost");
    for origin in ["http://127.0.0.3:1", "http://127.0.0.3:2"] {
        assert!(
            lines.iter().any(|l| l.contains(origin)),
            "the event of the call that gave up ({origin}) is missing"
        );
    }
}
