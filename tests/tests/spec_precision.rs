//! The spec-precision rules of abi.md that need a timeout shorter than the defaults, so the
//! conformance kit (which runs a CLI with default settings) cannot check them; each other rule
//! of that list has a case in `tests/conformance`. Each test names the abi.md text it checks.

use std::time::Duration;

use e2e::abi::{Proxy, assert_code};
use e2e::ctx_allowing_with_timeouts;
use e2e::server::{Reply, TestServer};
use wasi_experimental_http_wasmtime::ErrorCode as E;

// abi.md "Timeouts and limits": the idle timeout bounds each wait from its own start; time the
// guest spends between calls never counts toward it. With a 300 ms idle timeout, a guest that
// waits 900 ms between req and body_read (the server has sent everything) reads the body whole.
#[test]
fn guest_time_between_calls_is_not_idle_time() {
    let server = TestServer::scripted(vec![
        Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfirst")
            .sleep(Duration::from_millis(100))
            .send("-half"),
    ]);
    let ctx = ctx_allowing_with_timeouts([server.origin()], |t| {
        t.idle = Duration::from_millis(300);
    });
    let mut p = Proxy::new(ctx);
    let (status, h) = p.get(&server.url("/"));
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(p.read_body(h), Ok(b"first-half".to_vec()));
}

// abi.md "Timeouts and limits": after the overall deadline, the body bytes the host already
// holds (read from the socket with the head) are still delivered; the next wait fails at once
// with 23, even though more bytes are by then waiting in the socket.
#[test]
fn held_bytes_are_delivered_after_the_deadline_socket_bytes_are_not() {
    let server = TestServer::scripted(vec![
        Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nheld")
            .sleep(Duration::from_millis(200))
            .send("sock"),
    ]);
    let ctx = ctx_allowing_with_timeouts([server.origin()], |t| {
        t.total = Duration::from_millis(600);
    });
    let mut p = Proxy::new(ctx);
    let (_, h) = p.get(&server.url("/"));
    // Past the deadline; "sock" arrived 200 ms after the head and sits in the socket buffer.
    std::thread::sleep(Duration::from_millis(1000));
    let first = p.body_read(h, 64);
    assert_code(first.code, E::Success, "held bytes after the deadline");
    assert_eq!(first.data, b"held");
    let second = p.body_read(h, 64);
    assert_code(
        second.code,
        E::DeadlineExceeded,
        "a wait after the deadline",
    );
}
