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
