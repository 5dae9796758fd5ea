//! The spec-precision rules of abi.md that need a timeout shorter than the defaults, so the
//! conformance kit (which runs a CLI with default settings) cannot check them; each other rule
//! of that list has a case in `tests/conformance`. Each test names the abi.md text it checks.

use std::time::Duration;

use e2e::abi::{Proxy, assert_code};
use e2e::run::try_instantiate_wat;
use e2e::server::{Reply, TestServer};
use e2e::{ctx_allowing, ctx_allowing_with_timeouts};
use wasi_experimental_http_host::ErrorCode as E;

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

// abi.md "Timeouts and limits": once the overall deadline has passed, body_read delivers
// nothing more, not even the body bytes the host already holds (here the whole body arrived
// with the head): 23 at once, sticky; a body that reached its framed end before the deadline
// stays Ended (0). The conformance kit checks the same rule at the default 30 s
// (`timeouts/deadline-passed-with-the-body-held-30s`).
#[test]
fn after_the_deadline_body_read_delivers_nothing_even_held_bytes() {
    let server = TestServer::scripted(vec![
        Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nheld"),
        Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nread"),
    ]);
    let ctx = ctx_allowing_with_timeouts([server.origin()], |t| {
        t.total = Duration::from_millis(300);
    });
    let mut p = Proxy::new(ctx);
    let (_, held) = p.get(&server.url("/held"));
    let (_, read) = p.get(&server.url("/read"));
    assert_eq!(p.read_body(read), Ok(b"read".to_vec()));
    std::thread::sleep(Duration::from_millis(600));
    let first = p.body_read(held, 64);
    assert_code(
        first.code,
        E::DeadlineExceeded,
        "held bytes after the deadline",
    );
    assert!(first.data.is_empty());
    let second = p.body_read(held, 64);
    assert_code(second.code, E::DeadlineExceeded, "sticky");
    let ended = p.body_read(read, 64);
    assert_code(
        ended.code,
        E::Success,
        "a body that ended before the deadline",
    );
    assert!(ended.data.is_empty());
}

/// A module exporting a shared memory as `memory`, with one wrapper per host function it calls.
const SHARED_MEMORY_WAT: &str = r#"(module
    (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
    (import "wasi_experimental_http" "header_get"
        (func $header_get (param i32 i32 i32 i32 i32 i32) (result i32)))
    (import "wasi_experimental_http" "body_read"
        (func $body_read (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1 1 shared)
    (func (export "close") (param i32) (result i32) (call $close (local.get 0)))
    (func (export "header_get") (result i32)
        (call $header_get (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)
            (i32.const 8) (i32.const 0)))
    (func (export "body_read") (result i32)
        (call $body_read (i32.const 1) (i32.const 8) (i32.const 8) (i32.const 0))))"#;

// abi.md "Memory contract" 4: wasmtime's default configuration (this suite's and
// wasmtime-http's) has shared memory disabled, and refuses to instantiate a module that
// exports one, before any call: the rule never applies there.
#[test]
fn default_engine_refuses_a_shared_memory_module_before_any_call() {
    let err = try_instantiate_wat(SHARED_MEMORY_WAT, ctx_allowing(["http://127.0.0.1:1"]))
        .err()
        .expect("the default engine instantiated a shared memory");
    assert!(format!("{err:?}").contains("shared memory"), "{err:?}");
}

// abi.md "Memory contract" 4: on an engine with shared memory enabled, every function taking a
// pointer returns memory_not_found (2) for a shared `memory` export, and close, which takes
// none, still answers (1 for a handle never issued).
#[test]
fn with_shared_memory_enabled_a_shared_export_is_memory_not_found() {
    let mut config = wasmtime::Config::new();
    config.shared_memory(true);
    let engine = wasmtime::Engine::new(&config).unwrap();
    let mut linker: wasmtime::Linker<e2e::run::State> = wasmtime::Linker::new(&engine);
    wasi_experimental_http_host::add_to_linker(&mut linker, |s: &mut e2e::run::State| &mut s.http)
        .unwrap();
    let state = e2e::run::State {
        wasi: wasmtime_wasi::WasiCtxBuilder::new().build_p1(),
        http: ctx_allowing(["http://127.0.0.1:1"]),
    };
    let mut store = wasmtime::Store::new(&engine, state);
    let module = wasmtime::Module::new(&engine, SHARED_MEMORY_WAT).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let mut call = |name: &str, args: &[i32]| -> i32 {
        let f = instance.get_func(&mut store, name).unwrap();
        let params: Vec<wasmtime::Val> = args.iter().map(|a| wasmtime::Val::I32(*a)).collect();
        let mut results = [wasmtime::Val::I32(0)];
        f.call(&mut store, &params, &mut results).unwrap();
        results[0].unwrap_i32()
    };
    assert_code(call("header_get", &[]), E::MemoryNotFound, "header_get");
    assert_code(call("body_read", &[]), E::MemoryNotFound, "body_read");
    assert_code(
        call("close", &[1]),
        E::InvalidHandle,
        "close takes no pointer",
    );
}
