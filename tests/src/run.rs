//! Runs guests in-process on wasmtime, linked with WASI preview 1 and the host library.
//!
//! One [`Engine`] per process; compiled modules are cached in memory by path and on disk by
//! wasmtime's cache, because compiling the guests (with a debug-built Cranelift) is the slow
//! part of the suite.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use wasi_experimental_http_host::{self as host, ErrorCode, HttpCtx};
use wasmtime::{Engine, Instance, Linker, Memory, Module, Store, Val};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use crate::server::Fnv1a64;

/// Captured output is capped at this size; a guest writing more traps.
const OUTPUT_CAPACITY: usize = 16 * 1024 * 1024;

/// Store data: WASI next to the HTTP context, as an embedder would lay it out.
pub struct State {
    /// WASI preview 1.
    pub wasi: WasiP1Ctx,
    /// The host library's per-store state.
    pub http: HttpCtx,
}

/// The process-wide engine.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        let dir = crate::guests::repo_root()
            .join("target")
            .join("e2e-wasmtime-cache");
        let mut cache = wasmtime::CacheConfig::new();
        cache.with_directory(dir);
        // The disk cache is an optimisation; without it everything still works, just slower.
        if let Ok(cache) = wasmtime::Cache::new(cache) {
            config.cache(Some(cache));
        }
        Engine::new(&config).expect("wasmtime engine")
    })
}

/// A linker with WASI preview 1 and the `wasi_experimental_http` functions.
pub fn linker() -> Linker<State> {
    let mut linker = Linker::new(engine());
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut State| &mut s.wasi)
        .expect("link WASI");
    host::add_to_linker(&mut linker, |s: &mut State| &mut s.http).expect("link host");
    linker
}

/// The compiled module at `path`, compiled once per process (recompiled if the file changed).
pub fn load_module(path: &Path) -> Module {
    type Cache = HashMap<PathBuf, (Option<SystemTime>, Module)>;
    static MODULES: OnceLock<Mutex<Cache>> = OnceLock::new();
    let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let modules = MODULES.get_or_init(|| Mutex::new(HashMap::new()));
    // Held while compiling: parallel tests wanting the same guest wait instead of compiling it
    // again, which on two shared cores would only slow everyone down.
    let mut modules = modules.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((t, m)) = modules.get(path)
        && *t == mtime
    {
        return m.clone();
    }
    let module = Module::from_file(engine(), path)
        .unwrap_or_else(|e| panic!("compile {}: {e:?}", path.display()));
    modules.insert(path.to_path_buf(), (mtime, module.clone()));
    module
}

/// What a guest program did.
#[derive(Clone, Debug)]
pub struct GuestOutput {
    /// The exit code: the `proc_exit` status, 0 if `_start` returned, -1 if it trapped (the trap
    /// is appended to `stderr`).
    pub exit_code: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl GuestOutput {
    /// Asserts a zero exit code, showing the output otherwise.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert_eq!(self.exit_code, 0, "guest failed:\n{self}");
        self
    }

    /// The stdout lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The rest of the first stdout line starting with `prefix`.
    pub fn line_value(&self, prefix: &str) -> Option<&str> {
        self.stdout.lines().find_map(|l| l.strip_prefix(prefix))
    }

    /// Asserts that the first stdout line starting with `prefix` is `prefix` + `want`.
    #[track_caller]
    pub fn assert_line(&self, prefix: &str, want: &str) -> &Self {
        assert_eq!(self.line_value(prefix), Some(want), "{self}");
        self
    }

    /// The rest of every stdout line starting with `prefix`, in order (e.g. each `status: `
    /// of a `fetch --repeat` run).
    pub fn line_values(&self, prefix: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .collect()
    }

    /// The `(stage, code)` of the `fetch` guest's `error: <stage> <code> <name>` line, if it
    /// printed one.
    pub fn error(&self) -> Option<(String, u32)> {
        let mut parts = self.line_value("error: ")?.split_whitespace();
        let stage = parts.next()?.to_string();
        let code = parts.next()?.parse().ok()?;
        Some((stage, code))
    }

    /// Asserts that the `fetch` guest failed with exit code 1 and the error line
    /// `error: <stage> <code> <name>` for `code`, with `stage` one of `stages` (a test that
    /// does not care whether a failure shows in `req` or `body` lists both).
    #[track_caller]
    pub fn assert_error(&self, code: ErrorCode, stages: &[&str]) {
        let (stage, got) = self
            .error()
            .unwrap_or_else(|| panic!("expected error {code:?}, got:\n{self}"));
        assert_eq!(
            got,
            code.code(),
            "expected {} ({}), got {got} at {stage}:\n{self}",
            code.code(),
            code.name()
        );
        assert!(
            stages.contains(&stage.as_str()),
            "{code:?} reported at stage {stage}, expected one of {stages:?}:\n{self}"
        );
        // The whole line, so that the guest's name for the code is checked too.
        let want = format!("{stage} {} {}", code.code(), code.name());
        assert_eq!(self.line_value("error: "), Some(want.as_str()), "{self}");
        assert_eq!(self.exit_code, 1, "{self}");
    }

    /// Asserts a zero exit code and that the first `status:` line is `status`.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        self.assert_success()
            .assert_line("status: ", &status.to_string())
    }

    /// Asserts a zero exit code and a `fetch` body of `len` bytes hashing to `fnv` (the
    /// first `body-bytes:` and `body-fnv:` lines), for bodies too large to spell out.
    #[track_caller]
    pub fn assert_body_digest(&self, len: u64, fnv: Fnv1a64) -> &Self {
        self.assert_success()
            .assert_line("body-bytes: ", &len.to_string())
            .assert_line("body-fnv: ", &fnv.hex())
    }

    /// Asserts a successful `fetch` run whose (first) response was `status` with exactly
    /// `body`, by its `body-bytes:` and `body-fnv:` lines.
    #[track_caller]
    pub fn assert_body(&self, status: u16, body: &[u8]) -> &Self {
        self.assert_status(status)
            .assert_body_digest(body.len() as u64, Fnv1a64::of(body))
    }
}

impl std::fmt::Display for GuestOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.exit_code, self.stdout, self.stderr
        )
    }
}

/// Runs the WASI program `wasm` with `args` (argv[1..]) and the HTTP context `ctx`.
pub fn run_guest(wasm: &Path, ctx: HttpCtx, args: &[&str]) -> GuestOutput {
    let name = wasm.file_stem().and_then(|s| s.to_str()).unwrap_or("guest");
    run_module(&load_module(wasm), name, ctx, args)
}

/// Runs an already compiled WASI program; `argv0` is its program name.
pub fn run_module(module: &Module, argv0: &str, ctx: HttpCtx, args: &[&str]) -> GuestOutput {
    let mut run = GuestRun::new(argv0, ctx, args);
    let result = linker()
        .instantiate(&mut run.store, module)
        .and_then(|instance| instance.get_typed_func::<(), ()>(&mut run.store, "_start"))
        .and_then(|start| start.call(&mut run.store, ()));
    run.finish(result)
}

/// [`run_module`] with the guest's stdout discarded rather than captured (for long runs, whose
/// output would otherwise accumulate in this process); returns the exit code only. Stderr is
/// still captured and shown if the guest fails.
pub fn run_module_quiet(module: &Module, argv0: &str, ctx: HttpCtx, args: &[&str]) -> i32 {
    let mut run = GuestRun::new(argv0, ctx, args);
    run.store.data_mut().wasi = {
        let mut argv = vec![argv0];
        argv.extend_from_slice(args);
        WasiCtxBuilder::new()
            .args(&argv)
            .stdout(std::io::empty())
            .stderr(run.stderr.clone())
            .build_p1()
    };
    let result = linker()
        .instantiate(&mut run.store, module)
        .and_then(|instance| instance.get_typed_func::<(), ()>(&mut run.store, "_start"))
        .and_then(|start| start.call(&mut run.store, ()));
    let out = run.finish(result);
    if out.exit_code != 0 {
        eprintln!("{}", out.stderr);
    }
    out.exit_code
}

/// A linker with WASI preview 1 and the `wasi_experimental_http` functions, both registered
/// for `call_async` (`add_to_linker_async`).
pub fn linker_async() -> Linker<State> {
    let mut linker = Linker::new(engine());
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut State| &mut s.wasi)
        .expect("link WASI");
    host::add_to_linker_async(&mut linker, |s: &mut State| &mut s.http).expect("link host");
    linker
}

/// [`run_module`] through the async entry points: instantiated and called with
/// `instantiate_async` / `call_async`, so the host's network waits run on its workers.
pub async fn run_module_async(
    module: &Module,
    argv0: &str,
    ctx: HttpCtx,
    args: &[&str],
) -> GuestOutput {
    let mut run = GuestRun::new(argv0, ctx, args);
    let linker = linker_async();
    let result = async {
        let instance = linker.instantiate_async(&mut run.store, module).await?;
        let start = instance.get_typed_func::<(), ()>(&mut run.store, "_start")?;
        start.call_async(&mut run.store, ()).await
    }
    .await;
    run.finish(result)
}

/// A store set up to run one WASI program with captured output.
struct GuestRun {
    store: Store<State>,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl GuestRun {
    fn new(argv0: &str, ctx: HttpCtx, args: &[&str]) -> GuestRun {
        let stdout = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let stderr = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let mut argv = vec![argv0];
        argv.extend_from_slice(args);
        let wasi = WasiCtxBuilder::new()
            .args(&argv)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build_p1();
        let store = Store::new(engine(), State { wasi, http: ctx });
        GuestRun {
            store,
            stdout,
            stderr,
        }
    }

    fn finish(self, result: wasmtime::Result<()>) -> GuestOutput {
        let (exit_code, trap) = match result {
            Ok(()) => (0, None),
            Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) => (exit.0, None),
                None => (-1, Some(format!("{e:?}"))),
            },
        };
        drop(self.store);
        let mut stderr = String::from_utf8_lossy(&self.stderr.contents()).into_owned();
        if let Some(trap) = trap {
            stderr.push_str("\n[trap] ");
            stderr.push_str(&trap);
        }
        GuestOutput {
            exit_code,
            stdout: String::from_utf8_lossy(&self.stdout.contents()).into_owned(),
            stderr,
        }
    }
}

/// An instantiated hand-written module, for calling its exports one at a time.
pub struct WatInstance {
    store: Store<State>,
    instance: Instance,
}

/// Compiles `wat` and instantiates it against [`linker`]; panics on failure.
pub fn run_wat(wat: &str, ctx: HttpCtx) -> WatInstance {
    try_instantiate_wat(wat, ctx).unwrap_or_else(|e| panic!("instantiate WAT: {e:?}"))
}

/// Compiles `wat` and instantiates it against [`linker`], returning the error (e.g. an import
/// signature mismatch) instead of panicking.
pub fn try_instantiate_wat(wat: &str, ctx: HttpCtx) -> wasmtime::Result<WatInstance> {
    let module = Module::new(engine(), wat)?;
    let wasi = WasiCtxBuilder::new().build_p1();
    let mut store = Store::new(engine(), State { wasi, http: ctx });
    let instance = linker().instantiate(&mut store, &module)?;
    Ok(WatInstance { store, instance })
}

impl WatInstance {
    /// Calls the export `name` with i32 arguments and returns its single i32 result; panics
    /// (failing the test) if the call traps.
    pub fn call(&mut self, name: &str, args: &[i32]) -> i32 {
        self.try_call(name, args)
            .unwrap_or_else(|e| panic!("call {name}{args:?} trapped: {e:?}"))
    }

    /// Like [`WatInstance::call`] but returns a trap as an error.
    pub fn try_call(&mut self, name: &str, args: &[i32]) -> wasmtime::Result<i32> {
        let func = self
            .instance
            .get_func(&mut self.store, name)
            .unwrap_or_else(|| panic!("no export {name}"));
        let params: Vec<Val> = args.iter().map(|a| Val::I32(*a)).collect();
        let mut results = [Val::I32(0)];
        func.call(&mut self.store, &params, &mut results)?;
        match results {
            [Val::I32(r)] => Ok(r),
            _ => panic!("{name} did not return an i32"),
        }
    }

    fn memory(&mut self) -> Memory {
        self.instance
            .get_memory(&mut self.store, "memory")
            .expect("module exports memory")
    }

    /// The size of the exported memory in bytes.
    pub fn mem_size(&mut self) -> usize {
        let m = self.memory();
        m.data_size(&self.store)
    }

    /// Copies `len` bytes of guest memory at `ptr`.
    pub fn read_mem(&mut self, ptr: u32, len: usize) -> Vec<u8> {
        let m = self.memory();
        let start = ptr as usize;
        m.data(&self.store)[start..start + len].to_vec()
    }

    /// Reads a little-endian u32 at any (possibly unaligned) address.
    pub fn read_u32(&mut self, ptr: u32) -> u32 {
        let b = self.read_mem(ptr, 4);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Reads a little-endian u16 at any (possibly unaligned) address.
    pub fn read_u16(&mut self, ptr: u32) -> u16 {
        let b = self.read_mem(ptr, 2);
        u16::from_le_bytes([b[0], b[1]])
    }

    /// Writes `bytes` into guest memory at `ptr`.
    pub fn write_mem(&mut self, ptr: u32, bytes: &[u8]) {
        let m = self.memory();
        let start = ptr as usize;
        m.data_mut(&mut self.store)[start..start + bytes.len()].copy_from_slice(bytes);
    }

    /// Fills `len` bytes at `ptr` with `byte`.
    pub fn fill_mem(&mut self, ptr: u32, len: usize, byte: u8) {
        self.write_mem(ptr, &vec![byte; len]);
    }

    /// The store's HTTP context.
    pub fn ctx(&mut self) -> &mut HttpCtx {
        &mut self.store.data_mut().http
    }
}
