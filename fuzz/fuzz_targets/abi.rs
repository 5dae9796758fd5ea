//! The ABI layer: arbitrary sequences of the five calls with arbitrary pointers, lengths,
//! handles and buffer sizes, on a real wasmtime store, against an in-process loopback server
//! that answers with bytes from the fuzz input. No panic, no trap, only codes from abi.md's
//! table, and the memory contract: on an error nothing is written (but the needed length that
//! `buffer_too_small` reports at `written_ptr`); on success only the outputs change.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use wasi_experimental_http_host::{ErrorCode, HttpCtx, Timeouts, add_to_linker};
use wasmtime::{Engine, Instance, Linker, Module, Store, TypedFunc};

const PROXY: &str = include_str!("../../tests/wat/proxy.wat");
const MEM: u32 = 65536;
/// Where the fuzz target keeps a valid URL for the test server.
const URL_AT: u32 = 0x100;

struct World {
    engine: Engine,
    module: Module,
    linker: Linker<HttpCtx>,
    url: String,
}

/// What the server answers next (every connection gets it, then is closed).
static REPLY: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                    match s.read(&mut b) {
                        Ok(1) => head.push(b[0]),
                        _ => break,
                    }
                }
                let reply = REPLY.lock().unwrap().clone();
                let _ = s.write_all(&reply);
            }
        });
        let engine = Engine::default();
        let module = Module::new(&engine, PROXY).unwrap();
        let mut linker = Linker::new(&engine);
        add_to_linker(&mut linker, |c: &mut HttpCtx| c).unwrap();
        World { engine, module, linker, url: format!("http://{addr}/fuzz") }
    })
}

/// A pointer: mostly somewhere useful, sometimes anything.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Ptr {
    At(u16),
    NearEnd(u8),
    Raw(u32),
}

impl Ptr {
    fn get(self) -> u32 {
        match self {
            Ptr::At(p) => u32::from(p),
            Ptr::NearEnd(back) => MEM - u32::from(back),
            Ptr::Raw(p) => p,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Len {
    Small(u8),
    Page(u16),
    Raw(u32),
}

impl Len {
    fn get(self) -> u32 {
        match self {
            Len::Small(n) => u32::from(n),
            Len::Page(n) => u32::from(n),
            Len::Raw(n) => n,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Call {
    /// A request to the test server with the URL placed by the target, the rest arbitrary.
    Req { method: (Ptr, Len), headers: (Ptr, Len), body: (Ptr, Len), status: Ptr, handle: Ptr },
    /// A request with every argument arbitrary.
    ReqRaw { args: [u32; 10] },
    Close { handle: u32 },
    HeaderGet { handle: u32, name: (Ptr, Len), buf: (Ptr, Len), written: Ptr },
    HeadersGetAll { handle: u32, buf: (Ptr, Len), written: Ptr },
    BodyRead { handle: u32, buf: (Ptr, Len), written: Ptr },
    /// Writes bytes into guest memory (method names, header names, blocks).
    Poke { at: u16, bytes: Vec<u8> },
}

#[derive(Arbitrary, Debug)]
struct Input {
    reply: Vec<u8>,
    calls: Vec<Call>,
}

/// The ranges a successful call may write.
fn outputs(call: &Call, mem: &[u8]) -> Vec<(u32, u32)> {
    let written = |p: Ptr| {
        let at = p.get() as usize;
        mem.get(at..at + 4).map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    match call {
        Call::Req { status, handle, .. } => vec![(status.get(), 2), (handle.get(), 4)],
        Call::ReqRaw { args } => vec![(args[8], 2), (args[9], 4)],
        Call::HeaderGet { buf, written: w, .. }
        | Call::HeadersGetAll { buf, written: w, .. }
        | Call::BodyRead { buf, written: w, .. } => {
            // The host reports what it wrote; it may never exceed the buffer it was given.
            assert!(written(*w) <= buf.1.get(), "written {} > buf_len {}", written(*w), buf.1.get());
            vec![(buf.0.get(), written(*w)), (w.get(), 4)]
        }
        Call::Close { .. } | Call::Poke { .. } => vec![],
    }
}

fn inside(i: usize, ranges: &[(u32, u32)]) -> bool {
    ranges.iter().any(|&(p, n)| (p as usize..p as usize + n as usize).contains(&i))
}

fuzz_target!(|input: Input| {
    if input.calls.len() > 16 {
        return;
    }
    let w = world();
    *REPLY.lock().unwrap() = input.reply.clone();
    let ctx = HttpCtx::builder()
        .allowed_hosts([w.url.trim_end_matches("/fuzz")])
        .timeouts(Timeouts {
            connect: Duration::from_millis(200),
            response_header: Duration::from_millis(200),
            idle: Duration::from_millis(100),
            total: Duration::from_millis(400),
        })
        .max_concurrent_requests(4)
        .build()
        .unwrap();
    let mut store = Store::new(&w.engine, ctx);
    let instance: Instance = w.linker.instantiate(&mut store, &w.module).unwrap();
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    memory.write(&mut store, URL_AT as usize, w.url.as_bytes()).unwrap();
    let req: TypedFunc<(u32, u32, u32, u32, u32, u32, u32, u32, u32, u32), u32> =
        instance.get_typed_func(&mut store, "req").unwrap();
    let close: TypedFunc<u32, u32> = instance.get_typed_func(&mut store, "close").unwrap();
    let header_get: TypedFunc<(u32, u32, u32, u32, u32, u32), u32> =
        instance.get_typed_func(&mut store, "header_get").unwrap();
    let headers_get_all: TypedFunc<(u32, u32, u32, u32), u32> =
        instance.get_typed_func(&mut store, "headers_get_all").unwrap();
    let body_read: TypedFunc<(u32, u32, u32, u32), u32> =
        instance.get_typed_func(&mut store, "body_read").unwrap();
    let url_len = w.url.len() as u32;
    for call in &input.calls {
        if let Call::Poke { at, bytes } = call {
            let at = usize::from(*at);
            let n = bytes.len().min(MEM as usize - at);
            memory.write(&mut store, at, &bytes[..n]).unwrap();
            continue;
        }
        let before = memory.data(&store).to_vec();
        let code = match *call {
            Call::Req { method, headers, body, status, handle } => req.call(
                &mut store,
                (URL_AT, url_len, method.0.get(), method.1.get(), headers.0.get(), headers.1.get(),
                 body.0.get(), body.1.get(), status.get(), handle.get()),
            ),
            Call::ReqRaw { args: a } => {
                req.call(&mut store, (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]))
            }
            Call::Close { handle } => close.call(&mut store, handle),
            Call::HeaderGet { handle, name, buf, written } => header_get.call(
                &mut store,
                (handle, name.0.get(), name.1.get(), buf.0.get(), buf.1.get(), written.get()),
            ),
            Call::HeadersGetAll { handle, buf, written } => headers_get_all
                .call(&mut store, (handle, buf.0.get(), buf.1.get(), written.get())),
            Call::BodyRead { handle, buf, written } => {
                body_read.call(&mut store, (handle, buf.0.get(), buf.1.get(), written.get()))
            }
            Call::Poke { .. } => unreachable!(),
        }
        .expect("a host call never traps");
        let code = ErrorCode::from_code(code).unwrap_or_else(|| panic!("unknown code {code}"));
        let after = memory.data(&store);
        let allowed: Vec<(u32, u32)> = match code {
            ErrorCode::Success => outputs(call, after),
            ErrorCode::BufferTooSmall => match call {
                Call::HeaderGet { written, .. } | Call::HeadersGetAll { written, .. } => {
                    vec![(written.get(), 4)]
                }
                _ => vec![],
            },
            _ => vec![],
        };
        for (i, (b, a)) in before.iter().zip(after).enumerate() {
            assert!(b == a || inside(i, &allowed), "{call:?} -> {code:?} wrote byte {i}");
        }
    }
});
