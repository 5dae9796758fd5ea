//! Connection reuse: a connection goes back to the pool only when nothing at all is left over
//! past the framed end of the response, over plain TCP and over TLS alike.
//!
//! abi.md "Responses" (Truncation is an error): "Bytes after the framed end are never
//! delivered; if any arrive, the connection is not reused." abi.md "Connection reuse and
//! retries": a connection returns to the pool "only if the framed end was reached with no bytes
//! beyond it". RFC 9112 §9.3 / §11.2: a client that reads past one response into the next
//! desynchronises requests from responses (response splitting / smuggling).

// clippy.toml allows these inside #[test] only; the helpers here need them too.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] (servers, fixtures, parsers) panic on failure"
)]

use std::thread;
use std::time::Duration;

use e2e::abi::Proxy;
use e2e::ctx_builder;
use e2e::server::{Reply, TestServer};
use e2e::tls::TestCa;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What a hostile server appends to its first response: a whole second response that, read on
/// a reused connection, would be taken as the answer to the next request.
const FORGED: &str = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged";
/// The server's real answer to the second request (on whatever connection it arrives).
const REAL: &str = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal";
const HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";

/// When the stray bytes arrive, relative to the client reading the body.
#[derive(Clone, Copy, Debug)]
enum Stray {
    /// In the same write (over TLS: the same record) as the body's last bytes, so one read
    /// from the connection returns the body's end and the stray bytes together.
    WithTheBody,
    /// Later, after the body was read and the connection was already idle in the pool.
    WhileIdle,
}

/// Runs two GETs through one store against a server whose first response carries [`FORGED`]
/// past its framed end; asserts the first body is exactly `hello` and the second is the real
/// answer on a second connection.
fn assert_not_reused(tls: bool, stray: Stray) {
    let first = match stray {
        // The head first, then (once the client waits for the body) body and stray bytes in
        // one write.
        Stray::WithTheBody => Reply::new()
            .send(HEAD)
            .sleep(ms(200))
            .send(format!("hello{FORGED}")),
        Stray::WhileIdle => Reply::new()
            .send(format!("{HEAD}hello"))
            .sleep(ms(300))
            .send(FORGED),
    };
    let replies = vec![first, Reply::raw(REAL)];
    let ca = TestCa::new();
    let (server, ctx) = if tls {
        let server = TestServer::scripted_tls(replies, ca.localhost_config());
        let ctx = ctx_builder([server.origin()])
            .add_root_certificates_pem(ca.pem())
            .unwrap()
            .only_custom_roots(true)
            .build()
            .unwrap();
        (server, ctx)
    } else {
        let server = TestServer::scripted(replies);
        let ctx = ctx_builder([server.origin()]).build().unwrap();
        (server, ctx)
    };
    let what = format!("tls: {tls}, stray bytes {stray:?}");
    let mut p = Proxy::new(ctx);

    let (_, h) = p.get(&server.url("/1"));
    if let Stray::WithTheBody = stray {
        // Let body and stray bytes arrive together before the first body_read.
        thread::sleep(ms(500));
    }
    assert_eq!(p.read_body(h).unwrap(), b"hello", "{what}: first body");
    assert_eq!(p.close(h), 0);
    if let Stray::WithTheBody = stray {
        assert_eq!(
            p.inst.ctx().idle_connections(),
            0,
            "{what}: a connection holding bytes past the framed end was pooled"
        );
    } else {
        // Let the stray bytes reach the idle connection.
        thread::sleep(ms(600));
    }

    let (status, h) = p.get(&server.url("/2"));
    let body = p.read_body(h).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&body),
        "real",
        "{what}: the second request was answered by bytes the server sent before it"
    );
    assert_eq!(status, 200);
    assert_eq!(p.close(h), 0);
    assert_eq!(
        server.accepted(),
        2,
        "{what}: the second GET needs a fresh connection"
    );
    assert_eq!(server.requests().len(), 2, "{what}");
}

// Over TLS, stray bytes decoded together with the body's end stay inside rustls's plaintext
// buffer, out of sight of a check that looks only at the host's own buffer and the TCP socket:
// such a connection must not be pooled, or the next GET receives those bytes (`forged`).
// Stray bytes arriving as a later record while the connection is idle are noticed when it is
// taken: it is dropped, and the request goes out on a fresh connection.
#[test]
fn tls_bytes_past_the_framed_end_prevent_reuse() {
    assert_not_reused(true, Stray::WithTheBody);
    assert_not_reused(true, Stray::WhileIdle);
}

// The same over plain TCP: stray bytes already waiting when the body ends keep the connection
// out of the pool; bytes arriving while it is idle make it unusable when taken.
#[test]
fn plain_bytes_past_the_framed_end_prevent_reuse() {
    assert_not_reused(false, Stray::WithTheBody);
    assert_not_reused(false, Stray::WhileIdle);
}

/// A server with the "client-side desync" bug: it answers a request as soon as its head has
/// arrived and never reads the body, so the body's bytes are parsed as the next request on the
/// connection. Answers `/forged` after `delay` (so the smuggled response is still on its way
/// when the connection is reused), any other path at once with the path's name.
fn body_ignoring_server(delay: Duration) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut pending = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                    pending.drain(..end + 4);
                    let path = head
                        .split(' ')
                        .nth(1)
                        .unwrap_or("/")
                        .trim_start_matches('/')
                        .to_owned();
                    if path == "forged" {
                        thread::sleep(delay);
                    }
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{path}",
                        path.len()
                    );
                    if stream.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

// A guest POSTs a body that is a whole second request (`GET /forged`) to a server that ignores
// bodies. The connection ends the POST's response cleanly and goes back to the pool; the
// smuggled response is still on its way. A sibling store's next GET must not take that
// connection, or it receives `forged` instead of its own answer (abi.md, "Connection reuse and
// retries": a connection that carried a body is reused only by the store that sent it).
#[test]
fn a_body_carrying_connection_is_never_reused_by_another_store() {
    let addr = body_ignoring_server(ms(300));
    let origin = format!("http://{addr}");
    let attacker_ctx = ctx_builder([origin.as_str()]).build().unwrap();
    let victim_ctx = attacker_ctx.new_sibling();
    let mut attacker = Proxy::new(attacker_ctx);
    let mut victim = Proxy::new(victim_ctx);

    let smuggled = format!("GET /forged HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let (status, h) = attacker
        .req(&format!("{origin}/upload"), "POST", "", smuggled.as_bytes())
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(attacker.read_body(h).unwrap(), b"upload");
    assert_eq!(attacker.close(h), 0);
    assert_eq!(
        attacker.inst.ctx().idle_connections(),
        1,
        "the POST's connection is pooled"
    );

    let (status, h) = victim.get(&format!("{origin}/mine"));
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8_lossy(&victim.read_body(h).unwrap()),
        "mine",
        "the sibling received the response a guest smuggled into a pooled connection"
    );
    assert_eq!(victim.close(h), 0);
}

// Connections that carried no body stay shared: a sibling reuses one (the pool's purpose).
#[test]
fn a_connection_without_a_body_is_shared_by_siblings() {
    let server = TestServer::echo();
    let ctx = ctx_builder([server.origin()]).build().unwrap();
    let mut first = Proxy::new(ctx.new_sibling());
    let mut second = Proxy::new(ctx);
    let (_, h) = first.get(&server.url("/a"));
    first.read_body(h).unwrap();
    let (_, h) = second.get(&server.url("/b"));
    second.read_body(h).unwrap();
    assert_eq!(server.accepted(), 1, "the sibling reused the connection");
}

// An idle pooled connection is closed once the pool's idle timeout has passed even if no store
// touches the pool again (abi.md, "Connection reuse and retries": the sweeper closes it within
// about a second), so sockets do not linger in CLOSE_WAIT.
#[test]
fn idle_connections_are_closed_after_the_idle_timeout_without_more_traffic() {
    use std::io::{Read, Write};
    use std::time::Instant;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut b).unwrap(), 1);
            head.push(b[0]);
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        let answered = Instant::now();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // Returns when the client closes the idle connection.
        let n = s.read(&mut b).unwrap_or(usize::MAX);
        (n, answered.elapsed())
    });
    let idle_timeout = ms(300);
    let ctx = ctx_builder([origin.as_str()])
        .pool(wasi_experimental_http_host::PoolConfig {
            idle_timeout,
            ..Default::default()
        })
        .build()
        .unwrap();
    let mut p = Proxy::new(ctx);
    let (_, h) = p.get(&format!("{origin}/"));
    assert_eq!(p.read_body(h).unwrap(), b"ok");
    assert_eq!(p.inst.ctx().idle_connections(), 1);
    let (n, after) = server.join().unwrap();
    assert_eq!(n, 0, "the idle connection was closed by the client");
    assert!(
        after >= idle_timeout,
        "closed before its idle timeout: {after:?}"
    );
    assert!(after < ms(2500), "closed {after:?} after the response");
    assert_eq!(p.inst.ctx().idle_connections(), 0);
}
