//! `original-host`: the original deislabs host, `wasi-experimental-http-wasmtime` 0.10.0 on
//! wasmtime 0.35, running the peer benchmark's workload (see the README) so the benchmark can
//! compare it with this project's host.
//!
//! ```text
//! original-host [--guest PATH] requests URL N REUSE [CA_PEM_FILE]
//! original-host [--guest PATH] stream URL BYTES BUF
//! ```
//!
//! `requests` prints `ns <elapsed>`; `stream` prints `ns <elapsed>` and `rss_kib <VmHWM>`. The
//! time runs from just before instantiation to after the guest returns (the module is compiled
//! before). Failures print one line on stderr and exit non-zero.

use std::process::exit;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use wasi_common::pipe::WritePipe;
use wasi_experimental_http_wasmtime::{HttpCtx, HttpState};
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::sync::WasiCtxBuilder;
use wasmtime_wasi::WasiCtx;

/// The guest built by `guest/` (see the `build` script).
const DEFAULT_GUEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/guest/target/wasm32-wasip1/release/original-guest.wasm"
);

const USAGE: &str = "usage: original-host [--guest PATH] requests URL N REUSE [CA_PEM_FILE] | \
                     original-host [--guest PATH] stream URL BYTES BUF";

struct Ctx {
    wasi: WasiCtx,
    http: HttpCtx,
}

fn main() {
    match run() {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
        }
        Err(e) => {
            eprintln!("original-host: {e:#}");
            exit(1);
        }
    }
}

/// `scheme://host[:port]` of `url`: the original host's allowed-hosts list takes origins (it
/// compares host names only).
fn origin(url: &str) -> Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow!("not an absolute URL: {url}"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    Ok(format!("{scheme}://{authority}"))
}

fn run() -> Result<Vec<String>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut guest = DEFAULT_GUEST.to_string();
    if args.first().map(String::as_str) == Some("--guest") {
        if args.len() < 2 {
            bail!("{USAGE}");
        }
        guest = args.remove(1);
        args.remove(0);
    }
    let (guest_args, stream) = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["requests", url, n, reuse, ref ca @ ..] if ca.len() <= 1 => {
            n.parse::<u64>().context("N")?;
            if reuse != "0" && reuse != "1" {
                bail!("REUSE must be 0 or 1");
            }
            // The original host builds a new reqwest client for every request, so it never
            // reuses a connection: REUSE 1 and 0 run the same way.
            if let Some(ca) = ca.first() {
                // reqwest 0.11's default TLS is native-tls, which is OpenSSL on Linux: OpenSSL's
                // default verify paths read SSL_CERT_FILE. Set before any client exists.
                std::fs::metadata(ca).with_context(|| format!("CA_PEM_FILE {ca}"))?;
                // No other thread exists yet, so setting the variable races with nothing.
                std::env::set_var("SSL_CERT_FILE", ca);
            }
            (vec!["requests", url, n], false)
        }
        ["stream", url, bytes, buf] => {
            bytes.parse::<u64>().context("BYTES")?;
            buf.parse::<u64>().context("BUF")?;
            (vec!["stream", url, bytes, buf], true)
        }
        _ => bail!("{USAGE}"),
    };
    let url = guest_args[1];
    let allowed_hosts = Some(vec![origin(url)?]);

    let engine = Engine::default();
    let module = Module::from_file(&engine, &guest).with_context(|| format!("guest {guest}"))?;
    let mut linker: Linker<Ctx> = Linker::new(&engine);
    wasmtime_wasi::add_to_linker(&mut linker, |c: &mut Ctx| &mut c.wasi)?;
    let http = HttpState::new()?;
    http.add_to_linker(&mut linker, |c: &Ctx| c.http.clone())?;

    let mut argv = vec!["original-guest".to_string()];
    argv.extend(guest_args.iter().map(|a| a.to_string()));
    // The guest's stderr is kept, to fold into the one-line failure reason.
    let guest_stderr = WritePipe::new_in_memory();
    let wasi = WasiCtxBuilder::new()
        .stderr(Box::new(guest_stderr.clone()))
        .args(&argv)
        .map_err(|e| anyhow!("guest args: {e}"))?
        .build();
    let ctx = Ctx {
        wasi,
        http: HttpCtx {
            allowed_hosts,
            max_concurrent_requests: None,
        },
    };
    let mut store = Store::new(&engine, ctx);

    let start = Instant::now();
    let instance = linker.instantiate(&mut store, &module)?;
    let main = instance.get_typed_func::<(), (), _>(&mut store, "_start")?;
    let outcome = main.call(&mut store, ());
    let elapsed = start.elapsed();
    if let Err(trap) = outcome {
        let failure = match trap.i32_exit_status() {
            Some(0) => None,
            Some(code) => Some(format!("guest exited with status {code}")),
            // The trap's first line: the rest is a wasm backtrace.
            None => Some(format!(
                "guest trapped: {}",
                trap.to_string().lines().next().unwrap_or_default()
            )),
        };
        if let Some(failure) = failure {
            drop(store);
            let said = guest_stderr
                .try_into_inner()
                .map(|c| String::from_utf8_lossy(&c.into_inner()).into_owned())
                .unwrap_or_default();
            let said: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
            if said.is_empty() {
                bail!("{failure}");
            }
            bail!("{failure}: {}", said.join("; "));
        }
    }

    let mut out = vec![format!("ns {}", elapsed.as_nanos())];
    if stream {
        out.push(format!("rss_kib {}", vm_hwm_kib()?));
    }
    Ok(out)
}

/// This process's peak resident set (VmHWM), in KiB.
fn vm_hwm_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmHWM in /proc/self/status"))
}
