//! `wasi-http-host`: the benchmark's peer host on wasmtime's own wasi:http implementation.
//!
//! Runs the guest component (`guest/`, a `wasi:cli/command` for `wasm32-wasip2`) on
//! `wasmtime-wasi-http` 48 with its synchronous bindings, and speaks the peer protocol the
//! main benchmark parses:
//!
//! - `wasi-http-host requests URL N REUSE [CA_PEM_FILE]`: N sequential GETs in one instance;
//!   prints `ns <elapsed>`.
//! - `wasi-http-host stream URL BYTES BUF`: one GET whose BYTES-long body the guest reads with
//!   reads of at most BUF bytes; prints `ns <elapsed>` and `rss_kib <VmHWM>`.
//!
//! The time runs from just before instantiation to after the guest returns; compiling the
//! component happens first. `--guest PATH` (before the command) runs another component.
//!
//! Connections: wasmtime-wasi-http's sender opens a new connection for every request and has no
//! pool, so REUSE `1` and `0` behave the same. HTTPS: its default sender trusts only the
//! webpki roots; with a CA file this host installs a sender that is the default one with the
//! CA as its root store (see [`tls`]), so this host never needs the protocol's exit code 3.

use std::process::ExitCode;
use std::time::Instant;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

mod tls;

/// The guest component, built by `build` next to this crate.
const GUEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/guest/target/wasm32-wasip2/release/wasi-http-guest.wasm"
);

/// A failure: the exit code and the one-line reason printed on stderr.
struct Failure(u8, String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure(1, format!("{e:#}"))
    }
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(lines) => {
            print!("{lines}");
            ExitCode::SUCCESS
        }
        Err(Failure(code, reason)) => {
            eprintln!("wasi-http-host: {}", reason.replace('\n', " "));
            ExitCode::from(code)
        }
    }
}

const USAGE: &str = "usage: wasi-http-host [--guest PATH] requests URL N REUSE [CA_PEM_FILE] \
     | stream URL BYTES BUF";

/// Runs the command in `args`; returns what goes on stdout.
fn run(mut args: Vec<String>) -> Result<String, Failure> {
    let mut guest = GUEST.to_string();
    if args.first().map(String::as_str) == Some("--guest") {
        if args.len() < 2 {
            return Err(Failure(2, USAGE.into()));
        }
        guest = args.remove(1);
        args.remove(0);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["requests", url, n, reuse, rest @ ..] if rest.len() <= 1 => {
            let n: u64 = n.parse().map_err(|e| format!("N: {e}"))?;
            // There is no connection pool to turn on or off: both values mean the same.
            if !matches!(*reuse, "0" | "1") {
                return Err(Failure(2, format!("REUSE must be 0 or 1, not {reuse:?}")));
            }
            let hooks = match rest.first() {
                Some(ca) if url.starts_with("https://") => {
                    Hooks::Ca(tls::CaSender::from_pem_file(ca)?)
                }
                _ => Hooks::Default,
            };
            let ns = run_guest(&guest, &["requests", url, &n.to_string()], hooks)?;
            Ok(format!("ns {ns}\n"))
        }
        ["stream", url, bytes, buf] => {
            let bytes: u64 = bytes.parse().map_err(|e| format!("BYTES: {e}"))?;
            let buf: u64 = buf.parse().map_err(|e| format!("BUF: {e}"))?;
            let ns = run_guest(
                &guest,
                &["stream", url, &bytes.to_string(), &buf.to_string()],
                Hooks::Default,
            )?;
            Ok(format!("ns {ns}\nrss_kib {}\n", vm_hwm_kib()?))
        }
        _ => Err(Failure(2, USAGE.into())),
    }
}

/// What sends the guest's requests: wasmtime-wasi-http's default sender, or the same with a
/// CA of our own for HTTPS.
enum Hooks {
    Default,
    Ca(tls::CaSender),
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                )>,
            > + Send,
    > {
        match self {
            Hooks::Default => DefaultHooks.send_request(request, options, fut),
            Hooks::Ca(sender) => sender.send_request(request, options),
        }
    }
}

/// The trait's provided methods only: wasmtime-wasi-http's default behaviour.
struct DefaultHooks;
impl WasiHttpHooks for DefaultHooks {}

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Hooks,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Compiles and links the guest, then times one instantiation and run with `args`.
fn run_guest(path: &str, args: &[&str], hooks: Hooks) -> Result<u128, Failure> {
    let engine = Engine::default();
    let component =
        Component::from_file(&engine, path).map_err(|e| format!("loading guest {path}: {e:#}"))?;
    let mut linker = Linker::<State>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
    let pre = linker.instantiate_pre(&component)?;

    let mut argv = vec!["wasi-http-guest"];
    argv.extend_from_slice(args);
    // The guest's stderr (its reason for failing) goes into the host's one-line reason.
    let stderr = MemoryOutputPipe::new(64 * 1024);
    let wasi = WasiCtx::builder()
        .args(&argv)
        .stderr(stderr.clone())
        .build();
    let mut store = Store::new(
        &engine,
        State {
            wasi,
            http: WasiHttpCtx::new(),
            hooks,
            table: ResourceTable::new(),
        },
    );

    let start = Instant::now();
    let instance = pre.instantiate(&mut store)?;
    let command = Command::new(&mut store, &instance)?;
    let result = command.wasi_cli_run().call_run(&mut store);
    let elapsed = start.elapsed().as_nanos();
    let failure = match result {
        Ok(Ok(())) => return Ok(elapsed),
        Ok(Err(())) => "guest run returned an error".to_string(),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(I32Exit(0)) => return Ok(elapsed),
            Some(I32Exit(code)) => format!("guest exited with code {code}"),
            None => format!("guest trapped: {e:#}"),
        },
    };
    let said = String::from_utf8_lossy(&stderr.contents())
        .trim()
        .to_string();
    Err(format!("{failure}: {said}").into())
}

/// This process's peak resident set (`VmHWM`) in KiB.
fn vm_hwm_kib() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/self/status".to_string())
}
