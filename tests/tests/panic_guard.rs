//! The panic guard: a panic in host code becomes `runtime_error` (12) for the guest, the
//! embedder is never unwound through, and the store stays usable. Panics are injected with the
//! test-only `fault-injection` feature (`HttpCtxBuilder::inject_panic`).

use e2e::abi::{BUF_MAX, Proxy, assert_code};
use e2e::ctx_builder;
use e2e::guests::guest_wasm;
use e2e::run::{load_module, run_module_async};
use e2e::server::TestServer;
use std::sync::{Arc, Mutex};
use wasi_experimental_http_host::{ErrorCode, EventKind, HttpCtxBuilder};

/// `(kind, code)` of every audit event seen.
type Seen = Arc<Mutex<Vec<(&'static str, u32)>>>;

/// Records `(kind, code)` of every audit event.
fn recording(builder: HttpCtxBuilder) -> (HttpCtxBuilder, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let builder = builder.on_event(move |e| {
        let entry = match &e.kind {
            EventKind::Denied(d) => ("denied", d.code.code()),
            EventKind::Completed(c) => ("completed", c.code.code()),
            _ => ("other", 0),
        };
        if let Ok(mut seen) = s.lock() {
            seen.push(entry);
        }
    });
    (builder, seen)
}

#[test]
fn a_panic_in_req_is_runtime_error_and_the_store_lives_on() {
    let server = TestServer::echo();
    let (builder, events) = recording(ctx_builder([server.origin()]).inject_panic("prepare"));
    let ctx = builder.build().unwrap();
    let mut p = Proxy::new(ctx);
    let url = server.url("/echo");
    let err = p.req(&url, "GET", "", b"").unwrap_err();
    assert_code(err, ErrorCode::RuntimeError, "req that panicked");
    // The store (and the instance) are fine: more calls, same answers.
    assert_code(
        p.close(7),
        ErrorCode::InvalidHandle,
        "close after the panic",
    );
    let err = p.req(&url, "GET", "", b"").unwrap_err();
    assert_code(err, ErrorCode::RuntimeError, "req that panicked again");
    assert_eq!(server.accepted(), 0, "nothing was sent");
    // Each request still ends in its one event: a denial, internal.
    assert_eq!(*events.lock().unwrap(), [("denied", 12), ("denied", 12)]);
}

#[test]
fn a_panic_in_body_read_fails_that_response_and_nothing_else() {
    let server = TestServer::echo();
    let (builder, events) = recording(ctx_builder([server.origin()]).inject_panic("body_read"));
    let ctx = builder.build().unwrap();
    let mut p = Proxy::new(ctx);
    let (status, h) = p.get(&server.url("/echo"));
    assert_eq!(status, 200);
    assert_code(
        p.body_read(h, BUF_MAX).code,
        ErrorCode::RuntimeError,
        "body_read",
    );
    assert_code(
        p.body_read(h, BUF_MAX).code,
        ErrorCode::RuntimeError,
        "sticky",
    );
    assert_code(
        p.header_get(h, b"content-type", 256).code,
        ErrorCode::Success,
        "header_get",
    );
    assert_eq!(p.close(h), 0);
    // A new request on the same store works up to its body.
    let (status, h) = p.get(&server.url("/again"));
    assert_eq!(status, 200);
    assert_eq!(p.close(h), 0);
    assert_eq!(
        *events.lock().unwrap(),
        [("completed", 12), ("completed", 0)],
        "one event per request, the failed one with the guard's code"
    );
}

/// On the async path the panic happens on a worker thread; the guest sees the same code.
#[test]
fn a_panic_on_a_worker_is_runtime_error_too() {
    let server = TestServer::echo();
    let ctx = ctx_builder([server.origin()])
        .inject_panic("body_read")
        .build()
        .unwrap();
    let module = load_module(&guest_wasm("tests/guests", "fetch"));
    let url = server.url("/echo");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let out = rt.block_on(run_module_async(&module, "fetch", ctx, &["GET", &url]));
    out.assert_error(ErrorCode::RuntimeError, &["body"]);
}
