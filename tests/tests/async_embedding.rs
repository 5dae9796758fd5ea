//! Async embedding (`add_to_linker_async`): guests called with `call_async` on a tokio runtime,
//! as an embedder serving HTTP would run them. The network waits run on the host's worker
//! threads, so the executor keeps running; the semantics are the sync path's; dropping a call's
//! future cancels its request.
//!
//! `cargo test -p e2e --test end_to_end -- async_embedding:: --nocapture` prints the 64-guest figures.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test servers and helpers outside #[test] fns: a panic is a failed test"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use e2e::ctx_allowing;
use e2e::guests::guest_wasm;
use e2e::run::{load_module, run_module, run_module_async};
use e2e::server::TestServer;
use wasmtime::Module;

fn fetch_module() -> Module {
    load_module(&guest_wasm("tests/guests", "fetch"))
}

fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .unwrap()
}

/// A server that answers every request `delay` after reading its head, one thread per
/// connection, and counts connections the client closed before the answer.
struct SlowServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl SlowServer {
    fn start(delay: Duration, response: &'static [u8]) -> SlowServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(2));
                    continue;
                };
                thread::spawn(move || {
                    stream.set_nonblocking(false).unwrap();
                    if read_head(&mut stream) {
                        thread::sleep(delay);
                        let _ = stream.write_all(response);
                    }
                });
            }
        });
        SlowServer { addr, stop }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn read_head(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

/// The same guest runs give the same output through both entry points: one implementation of
/// the semantics (statuses, headers, bodies, every error code on the way).
#[test]
fn sync_and_async_entry_points_give_the_same_results() {
    let module = fetch_module();
    let server = TestServer::echo();
    let echo = server.url("/echo");
    let denied = "http://127.0.0.2:9/";
    let cases: Vec<Vec<&str>> = vec![
        vec!["GET", &echo, "--all-headers", "--header", "content-type"],
        vec![
            "POST",
            &echo,
            "--body",
            "hello",
            "-H",
            "x-a:1",
            "--header",
            "x-missing",
        ],
        vec!["GET", &echo, "--buf", "3", "--repeat", "3"],
        vec!["GET", &echo, "--buf", "0"],
        vec!["GET", denied],
        vec!["CONNECT", &echo],
        vec!["GET", &echo, "-H", "Transfer-Encoding:chunked"],
        vec!["GET", "ftp://x/"],
    ];
    let rt = runtime(2);
    for args in cases {
        let sync = run_module(&module, "fetch", ctx_allowing([server.origin()]), &args);
        let ctx = ctx_allowing([server.origin()]);
        let asynchronous = rt.block_on(run_module_async(&module, "fetch", ctx, &args));
        assert_eq!(
            sync.exit_code, asynchronous.exit_code,
            "{args:?}\n{sync}\n{asynchronous}"
        );
        assert_eq!(sync.stdout, asynchronous.stdout, "{args:?}");
        assert!(!sync.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn sixty_four_guests_on_two_executor_threads_do_not_block_it() {
    const GUESTS: usize = 64;
    let delay = Duration::from_secs(1);
    let server = SlowServer::start(
        delay,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    );
    let module = fetch_module();
    let base = ctx_allowing([server.origin()]);
    let url = format!("{}/slow", server.origin());
    let rt = runtime(2);
    let (elapsed, worst_gap, outputs) = rt.block_on(async {
        let done = Arc::new(AtomicBool::new(false));
        let ticker = {
            let done = done.clone();
            tokio::spawn(async move {
                let mut worst = Duration::ZERO;
                let mut last = Instant::now();
                while !done.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    let now = Instant::now();
                    worst = worst.max(now - last);
                    last = now;
                }
                worst
            })
        };
        let started = Instant::now();
        let guests: Vec<_> = (0..GUESTS)
            .map(|_| {
                let (module, ctx, url) = (module.clone(), base.new_sibling(), url.clone());
                tokio::spawn(async move {
                    run_module_async(&module, "fetch", ctx, &["GET", &url]).await
                })
            })
            .collect();
        let mut outputs = Vec::new();
        for g in guests {
            outputs.push(g.await.unwrap());
        }
        let elapsed = started.elapsed();
        done.store(true, Ordering::SeqCst);
        (elapsed, ticker.await.unwrap(), outputs)
    });
    for out in &outputs {
        out.assert_body(200, b"ok");
    }
    eprintln!(
        "{GUESTS} guests, server answering after {delay:?}: all done in {:.2} s; \
         executor ticker's worst gap {:.1} ms",
        elapsed.as_secs_f64(),
        worst_gap.as_secs_f64() * 1e3
    );
    // Serialised on the two executor threads this would take 32 s; the host's default of 32
    // workers makes it two rounds of the server's delay.
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
    assert!(
        worst_gap < Duration::from_millis(500),
        "the executor was blocked for {worst_gap:?}"
    );
}

/// A listener that sends a head and 10 body bytes on each connection, then goes silent, and
/// records whether the client closed each connection.
fn stalling_body_server() -> (SocketAddr, Arc<Mutex<Vec<TcpStream>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(Mutex::new(Vec::new()));
    let c = conns.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            if read_head(&mut stream) {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789");
            }
            c.lock().unwrap().push(stream);
        }
    });
    (addr, conns)
}

#[test]
fn dropping_a_call_mid_body_closes_its_connection_and_leaves_others_alone() {
    let module = fetch_module();
    let (stall_addr, conns) = stalling_body_server();
    let stall = format!("http://{stall_addr}");
    let echo = TestServer::echo();
    let base = ctx_allowing([stall.clone(), echo.origin()]);
    let rt = runtime(2);
    let finished = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        // The stalled guest's call is dropped mid-body: once the server has sent the head and
        // 10 body bytes (and the guest, having read them, waits for more), its task is
        // aborted, which drops the call's future.
        let stalled = {
            let (module, ctx, url) = (module.clone(), base.new_sibling(), format!("{stall}/"));
            tokio::spawn(async move {
                let args = ["GET", url.as_str()];
                run_module_async(&module, "fetch", ctx, &args).await
            })
        };
        let others: Vec<_> = (0..4)
            .map(|i| {
                let (module, ctx, url) = (
                    module.clone(),
                    base.new_sibling(),
                    echo.url(&format!("/echo{i}")),
                );
                let finished = finished.clone();
                tokio::spawn(async move {
                    let out = run_module_async(&module, "fetch", ctx, &["GET", &url]).await;
                    out.assert_status(200);
                    finished.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        while conns.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !stalled.is_finished(),
            "the stalled call is still waiting for its body"
        );
        stalled.abort();
        assert!(stalled.await.unwrap_err().is_cancelled());
        for o in others {
            o.await.unwrap();
        }
    });
    assert_eq!(finished.load(Ordering::SeqCst), 4);
    // The server sees the dropped call's connection closed, promptly.
    let mut stream = conns.lock().unwrap()[0].try_clone().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let closed = match stream.read(&mut buf) {
        Ok(n) => n == 0,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(closed, "the dropped call's connection is closed");
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// What an audit event says, without its timings and ids.
fn event_summary(e: &wasi_experimental_http_host::Event<'_>) -> String {
    let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
    let keep = [
        "event",
        "origin",
        "method",
        "reason",
        "path",
        "status",
        "code",
        "sent_bytes",
        "received_bytes",
        "reused",
        "body_complete",
    ];
    keep.iter()
        .map(|k| format!("{k}={}", v.get(*k).unwrap_or(&serde_json::Value::Null)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn recording_ctx(
    origins: &[String],
    events: &Arc<Mutex<Vec<String>>>,
) -> wasi_experimental_http_host::HttpCtx {
    let seen = events.clone();
    e2e::ctx_builder(origins.iter().cloned())
        .on_event(move |e| seen.lock().unwrap().push(event_summary(e)))
        .build()
        .unwrap()
}

#[test]
fn sync_and_async_entry_points_emit_the_same_audit_events() {
    let module = fetch_module();
    let server = TestServer::echo();
    let echo = server.url("/echo?q=1");
    let origins = [server.origin()];
    let cases: Vec<Vec<&str>> = vec![
        vec!["GET", &echo, "--repeat", "2"],
        vec!["POST", &echo, "--body", "hello"],
        vec!["GET", &echo, "--buf", "0"],
        vec!["GET", "http://127.0.0.2:9/"],
        vec!["GET", &echo, "-H", "Transfer-Encoding:chunked"],
    ];
    let rt = runtime(2);
    for args in cases {
        let (sync_events, async_events) = (Arc::default(), Arc::default());
        run_module(
            &module,
            "fetch",
            recording_ctx(&origins, &sync_events),
            &args,
        );
        let ctx = recording_ctx(&origins, &async_events);
        rt.block_on(run_module_async(&module, "fetch", ctx, &args));
        let (s, a) = (sync_events.lock().unwrap(), async_events.lock().unwrap());
        assert!(!s.is_empty(), "{args:?}");
        assert_eq!(*s, *a, "{args:?}");
    }
}

#[test]
fn a_cancelled_async_request_is_reported_as_interrupted() {
    let module = fetch_module();
    let slow = SlowServer::start(Duration::from_secs(3), b"HTTP/1.1 204 No Content\r\n\r\n");
    let events = Arc::new(Mutex::new(Vec::new()));
    let ctx = recording_ctx(&[slow.origin()], &events);
    let url = format!("{}/slow", slow.origin());
    let rt = runtime(2);
    rt.block_on(async {
        let call = tokio::spawn(async move {
            run_module_async(&module, "fetch", ctx, &["GET", url.as_str()]).await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        call.abort();
        assert!(call.await.unwrap_err().is_cancelled());
    });
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains("event=\"completed\"")
            && events[0].contains("code=36")
            && events[0].contains("status=null"),
        "{events:?}"
    );
}
