//! Timeouts against misbehaving loopback servers: each phase's timeout fires with its own code,
//! and within its budget (plus a margin for a loaded 2-core machine).
//!
//! The guest is the `fetch` test program; its module is compiled before any clock starts so the
//! measured time is the host's, not Cranelift's.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use e2e::guests::guest_wasm;
use e2e::run::{GuestOutput, load_module, run_guest};
use e2e::server::{Reply, TestServer};
use wasi_experimental_http_host::{ErrorCode, HttpCtx, Timeouts};

/// Slack allowed on top of a timeout before the test calls it late.
const MARGIN: Duration = Duration::from_secs(1);

fn fetch_wasm() -> PathBuf {
    let wasm = guest_wasm("tests/guests", "fetch");
    // Compile now, outside any measured interval.
    load_module(&wasm);
    wasm
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Budgets generous enough never to fire in these tests; each test lowers the one it checks.
const RELAXED: Timeouts = Timeouts {
    connect: Duration::from_secs(2),
    response_header: Duration::from_secs(5),
    idle: Duration::from_secs(5),
    total: Duration::from_secs(10),
};

#[allow(
    clippy::unwrap_used,
    reason = "test helper outside #[test]: a panic here is the test failing with a message"
)]
fn ctx(origin: &str, timeouts: Timeouts) -> HttpCtx {
    HttpCtx::builder()
        .allowed_hosts([origin])
        .timeouts(timeouts)
        .build()
        .unwrap()
}

/// Runs `fetch` with `args` and returns its output and how long the run took.
fn timed_fetch(ctx: HttpCtx, args: &[&str]) -> (GuestOutput, Duration) {
    let wasm = fetch_wasm();
    let start = Instant::now();
    let out = run_guest(&wasm, ctx, args);
    (out, start.elapsed())
}

/// Asserts the run failed with `code` at one of `stages`, after at least `budget` minus a little
/// (the timer must not fire early) and before `budget` plus [`MARGIN`].
fn assert_timed_out(
    out: &GuestOutput,
    elapsed: Duration,
    code: ErrorCode,
    stages: &[&str],
    budget: Duration,
) {
    out.assert_error(code, stages);
    assert!(
        elapsed >= budget.saturating_sub(ms(50)),
        "{code:?} fired after {elapsed:?}, before its {budget:?} budget"
    );
    assert!(
        elapsed < budget + MARGIN,
        "{code:?} fired after {elapsed:?}, budget {budget:?} + margin {MARGIN:?}"
    );
}

/// Serves `reply` from a scripted server, GETs `path` from it under `timeouts`, and asserts
/// that the run failed with `code` at `stage` within `budget` ([`assert_timed_out`]).
fn fetch_timing_out(
    reply: Reply,
    path: &str,
    timeouts: Timeouts,
    (code, stage, budget): (ErrorCode, &str, Duration),
) -> GuestOutput {
    let server = TestServer::scripted(vec![reply]);
    let (out, elapsed) = timed_fetch(ctx(&server.origin(), timeouts), &["GET", &server.url(path)]);
    assert_timed_out(&out, elapsed, code, &[stage], budget);
    out
}

#[test]
fn stall_before_status_line_is_response_header_timeout() {
    fetch_timing_out(
        Reply::new()
            .sleep(Duration::from_secs(5))
            .send("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
        "/stall",
        Timeouts {
            response_header: ms(500),
            ..RELAXED
        },
        (ErrorCode::ResponseHeaderTimeout, "req", ms(500)),
    );
}

#[test]
fn stall_mid_headers_is_response_header_timeout() {
    fetch_timing_out(
        Reply::new()
            .send("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-partial: ")
            .sleep(Duration::from_secs(5))
            .send("done\r\ncontent-length: 0\r\n\r\n"),
        "/half-head",
        Timeouts {
            response_header: ms(600),
            ..RELAXED
        },
        (ErrorCode::ResponseHeaderTimeout, "req", ms(600)),
    );
}

/// The header timeout bounds the whole header section: a server that keeps sending header bytes
/// slowly (each gap shorter than the idle timeout) must not be able to stretch it.
#[test]
fn dripping_headers_hit_response_header_timeout() {
    let mut reply = Reply::new().send("HTTP/1.1 200 OK\r\n");
    for i in 0..100 {
        reply = reply.sleep(ms(50)).send(format!("x-drip-{i}: 1\r\n"));
    }
    fetch_timing_out(
        reply.send("content-length: 0\r\n\r\n"),
        "/drip-head",
        Timeouts {
            response_header: ms(700),
            ..RELAXED
        },
        (ErrorCode::ResponseHeaderTimeout, "req", ms(700)),
    );
}

#[test]
fn stall_mid_body_is_idle_timeout() {
    let out = fetch_timing_out(
        Reply::new()
            .send("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")
            .sleep(Duration::from_secs(5))
            .send([b'x'; 90]),
        "/half-body",
        Timeouts {
            idle: ms(500),
            ..RELAXED
        },
        (ErrorCode::IdleTimeout, "body", ms(500)),
    );
    // The status arrived before the stall.
    assert_eq!(out.line_value("status: "), Some("200"), "{out}");
}

/// One body byte every 100 ms is progress, so the idle timeout (500 ms) never fires; only the
/// overall deadline (1.5 s) stops a server that would otherwise take 10 s.
#[test]
fn slow_drip_body_hits_the_overall_deadline() {
    let mut reply = Reply::new().send("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n");
    for _ in 0..100 {
        reply = reply.sleep(ms(100)).send("z");
    }
    fetch_timing_out(
        reply,
        "/drip-body",
        Timeouts {
            connect: Duration::from_secs(1),
            response_header: Duration::from_secs(1),
            idle: ms(500),
            total: ms(1500),
        },
        (ErrorCode::DeadlineExceeded, "body", ms(1500)),
    );
}

/// A connect that never completes. Loopback answers every SYN at once unless the listener's
/// accept queue is full: Linux then drops the SYN, so the client waits exactly as it would for
/// a blackholed address. The queue is filled by connecting without ever accepting.
#[test]
fn full_accept_queue_is_connection_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    let full = loop {
        match TcpStream::connect_timeout(&addr, ms(200)) {
            Ok(s) => held.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break true,
            Err(e) => panic!("filling the accept queue: {e}"),
        }
        if held.len() > 5000 {
            break false;
        }
    };
    assert!(
        full,
        "the accept queue of {addr} did not fill after {} connections; this kernel does not \
         drop SYNs to a full queue, so this test cannot make a connect time out on loopback",
        held.len()
    );
    let origin = format!("http://{addr}");
    let timeouts = Timeouts {
        connect: ms(300),
        ..RELAXED
    };
    let (out, elapsed) = timed_fetch(ctx(&origin, timeouts), &["GET", &format!("{origin}/never")]);
    assert_timed_out(
        &out,
        elapsed,
        ErrorCode::ConnectionTimeout,
        &["req"],
        ms(300),
    );
    drop(listener);
}

#[test]
fn dead_port_is_connection_refused() {
    // Bound then released: nothing listens there now (another process taking the port in the
    // meantime is possible but vanishingly unlikely on a test machine).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://{}", SocketAddr::from(([127, 0, 0, 1], port)));
    let (out, elapsed) = timed_fetch(
        ctx(&origin, Timeouts::default()),
        &["GET", &format!("{origin}/")],
    );
    out.assert_error(ErrorCode::ConnectionRefused, &["req"]);
    assert!(elapsed < Duration::from_secs(2), "refusal took {elapsed:?}");
}

/// Name resolution cannot be interrupted, but its time counts: when the resolver returns after
/// the overall deadline, the request fails with `deadline_exceeded` (23) whatever the answer was
/// (`abi.md`, "Timeouts and limits"); a prompt failure stays `dns_error` (14).
#[test]
fn slow_resolution_past_the_deadline_is_deadline_exceeded() {
    let server = TestServer::echo();
    let live = SocketAddr::from(([127, 0, 0, 1], server.port()));
    let origin = format!("http://slow.test:{}", server.port());
    let url = format!("{origin}/");
    let timeouts = Timeouts {
        total: ms(200),
        ..RELAXED
    };
    type Answer = fn(SocketAddr) -> std::io::Result<Vec<SocketAddr>>;
    let answers: [(&str, Answer); 3] = [
        ("failure", |_| Err(std::io::Error::other("no such host"))),
        ("empty answer", |_| Ok(Vec::new())),
        ("an address", |live| Ok(vec![live])),
    ];
    for (what, answer) in answers {
        let ctx = HttpCtx::builder()
            .allowed_hosts([origin.as_str()])
            .address_policy(wasi_experimental_http_host::AddressPolicy::AllowAll)
            .timeouts(timeouts.clone())
            .resolver(move |_, _| {
                std::thread::sleep(ms(400));
                answer(live)
            })
            .build()
            .unwrap();
        let (out, elapsed) = timed_fetch(ctx, &["GET", &url]);
        out.assert_error(ErrorCode::DeadlineExceeded, &["req"]);
        assert!(
            elapsed < ms(400) + MARGIN,
            "{what}: took {elapsed:?}, the resolver sleeps 400 ms"
        );
    }
    // The same failure before the deadline is a DNS error.
    let ctx = HttpCtx::builder()
        .allowed_hosts([origin.as_str()])
        .timeouts(timeouts)
        .resolver(|_, _| Err(std::io::Error::other("no such host")))
        .build()
        .unwrap();
    let (out, _) = timed_fetch(ctx, &["GET", &url]);
    out.assert_error(ErrorCode::DnsError, &["req"]);
    assert!(server.requests().is_empty(), "nothing reached the server");
}

/// A resolver that returns after both the interrupt and the overall deadline: the interrupt
/// outranks every timer, so the request is `interrupted` (36), not `deadline_exceeded` (23)
/// (`abi.md`, "Interrupts and the embedder's deadline", Precedence).
#[test]
fn resolution_returning_after_the_interrupt_and_the_deadline_is_interrupted() {
    use std::sync::{Arc, Mutex};
    use wasi_experimental_http_host::InterruptHandle;
    let server = TestServer::echo();
    let live = SocketAddr::from(([127, 0, 0, 1], server.port()));
    let origin = format!("http://slow.test:{}", server.port());
    let handle: Arc<Mutex<Option<InterruptHandle>>> = Arc::default();
    let h = handle.clone();
    let ctx = HttpCtx::builder()
        .allowed_hosts([origin.as_str()])
        .address_policy(wasi_experimental_http_host::AddressPolicy::AllowAll)
        .timeouts(Timeouts {
            total: ms(200),
            ..RELAXED
        })
        .resolver(move |_, _| {
            if let Some(h) = h.lock().unwrap().as_ref() {
                h.interrupt();
            }
            std::thread::sleep(ms(400));
            Ok(vec![live])
        })
        .build()
        .unwrap();
    *handle.lock().unwrap() = Some(ctx.interrupt_handle());
    let (out, _) = timed_fetch(ctx, &["GET", &format!("{origin}/")]);
    out.assert_error(ErrorCode::Interrupted, &["req"]);
    assert!(server.requests().is_empty(), "nothing reached the server");
}

// The idle timeout bounds a stalled request write from the last byte the peer accepted: a
// server that never reads makes the host's socket buffer fill, and the POST fails with 22 one
// idle interval later, not two or three (a blocking write with a send timeout used to return
// a partial count only after a whole timeout, and the next write got a fresh one).
#[test]
fn a_stalled_request_write_is_idle_timeout_on_time() {
    use std::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    // Accepts (so the connect succeeds) and holds the connection without reading.
    let holder = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let idle = ms(1000);
    let timeouts = Timeouts { idle, ..RELAXED };
    // 16 MiB (the default request body limit) is far more than the socket buffers hold.
    let size = (16 << 20).to_string();
    let (out, elapsed) = timed_fetch(
        ctx(&origin, timeouts),
        &["POST", &format!("{origin}/upload"), "--body-size", &size],
    );
    assert_timed_out(&out, elapsed, ErrorCode::IdleTimeout, &["req"], idle);
    // Tighter than the shared margin: twice the idle timeout is the bug this guards.
    assert!(
        elapsed < ms(1700),
        "idle timeout on a stalled write took {elapsed:?}"
    );
    drop(holder);
}
