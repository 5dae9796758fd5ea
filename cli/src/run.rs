//! Running the module: the HTTP and WASI contexts built from the options, instantiation,
//! the `--invoke` call under the `--wall-timeout` budget, and the classification of a failure
//! into an exit status.

use std::fmt;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use wasi_experimental_http_host as host;
use wasmtime::error::Context as _;
use wasmtime::{
    Config, Engine, Linker, Module, Store, Trap, Val, ValType, WasmBacktrace, format_err,
};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::Cli;
use crate::watchdog::Watchdog;

/// Store data: WASI preview1 state next to the per-store HTTP state.
struct Data {
    wasi: WasiP1Ctx,
    http: host::HttpCtx,
}

/// Loads, instantiates and runs the module as `cli` describes.
pub(crate) fn run(cli: &Cli) -> wasmtime::Result<()> {
    // Configuration errors first: a bad option should not cost a module compilation.
    // Declared before the store, so dropped after it: every event is written before exit.
    let audit_log = match &cli.audit_log {
        Some(path) => Some(open_audit_log(path)?),
        None => None,
    };
    let http = http_ctx(cli, audit_log.as_ref())?;
    let wasi = wasi_ctx(cli)?;

    let mut config = Config::new();
    // Epoch interruption costs a check at every function entry and loop back-edge, so it is
    // configured only when there is a budget to enforce.
    config.epoch_interruption(cli.wall_timeout.is_some());
    if !cli.no_cache {
        let cache = wasmtime::Cache::from_file(cli.cache_config.as_deref())
            .context("invalid compilation cache configuration")?;
        config.cache(Some(cache));
    }
    let engine = Engine::new(&config)?;
    let module = crate::load::module(&engine, cli.module(), cli.allow_precompiled)
        .with_context(|| format!("failed to load module `{}`", cli.module().display()))?;

    let mut linker = Linker::new(&engine);
    p1::add_to_linker_sync(&mut linker, |d: &mut Data| &mut d.wasi)?;
    host::add_to_linker(&mut linker, |d: &mut Data| &mut d.http)?;

    let mut store = Store::new(&engine, Data { wasi, http });

    // The wall-clock budget covers the guest's code (start function, `_initialize`, the
    // invoked function) and its HTTP waits; compiling the module does not count. The epoch
    // deadline is set before the watchdog exists, so its one tick always reaches it.
    let watchdog = match cli.wall_timeout {
        Some(budget) => {
            let deadline = Instant::now()
                .checked_add(budget)
                .ok_or_else(|| format_err!("--wall-timeout of {budget:?} is out of range"))?;
            store.set_epoch_deadline(1);
            store.data_mut().http.set_deadline(Some(deadline));
            let interrupt = store.data().http.interrupt_handle();
            let watchdog = Watchdog::start(deadline, engine.clone(), interrupt)
                .context("failed to start the --wall-timeout watchdog")?;
            Some((watchdog, budget))
        }
        None => None,
    };

    let outcome = run_guest(cli, &linker, &module, &mut store);

    if let Some((watchdog, budget)) = watchdog
        && watchdog.stop(Instant::now())
    {
        // Whatever the guest did once stopped (trapped at an epoch check, or exited after an
        // HTTP call failed with `deadline_exceeded` or `interrupted`) is a consequence of the
        // timeout, not its own outcome: the results, if any, are not printed.
        match &outcome {
            Ok(_) => log::debug!("after the wall-clock timeout the guest returned"),
            Err(err) => log::debug!("after the wall-clock timeout: {err:?}"),
        }
        return Err(wasmtime::Error::new(WallTimeout(budget)));
    }
    for result in &outcome? {
        println!("{}", format_result(result));
    }
    Ok(())
}

/// Instantiates the module, calls `_initialize` if a reactor exports it, then the `--invoke`
/// function with the parsed arguments; returns that function's results.
fn run_guest(
    cli: &Cli,
    linker: &Linker<Data>,
    module: &Module,
    store: &mut Store<Data>,
) -> wasmtime::Result<Vec<Val>> {
    let instance = linker
        .instantiate(&mut *store, module)
        .with_context(|| format!("failed to instantiate `{}`", cli.module().display()))?;

    // A WASI reactor expects `_initialize` before any other export is called; a command
    // (exporting `_start`) has no `_initialize`, so this is a no-op for it.
    if cli.invoke != "_initialize"
        && let Some(init) = instance.get_func(&mut *store, "_initialize")
    {
        init.call(&mut *store, &[], &mut [])
            .context("failed to run `_initialize`")?;
    }

    let name = cli.invoke.as_str();
    let func = instance.get_func(&mut *store, name).ok_or_else(|| {
        format_err!(
            "module `{}` exports no function named `{name}`",
            cli.module().display()
        )
    })?;
    let ty = func.ty(&*store);
    let params = parse_params(name, ty.params(), cli.args())?;
    let mut results = vec![Val::I32(0); ty.results().len()];
    func.call(&mut *store, &params, &mut results)
        .with_context(|| format!("failed to invoke `{name}`"))?;
    Ok(results)
}

/// The `--wall-timeout` budget ran out before the guest finished. Its message is the one line
/// the CLI prints; its exit status is 124.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WallTimeout(pub(crate) Duration);

impl fmt::Display for WallTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wall-clock timeout of {}s reached; the guest was stopped",
            self.0.as_secs_f64()
        )
    }
}

impl std::error::Error for WallTimeout {}

/// The proxy options: `--proxy` and `--no-proxy`, over the conventional variables when
/// `--proxy-from-env` asks for them (`env` reads one). Mistakes in the values are the
/// builder's to report, without the credentials.
fn proxy_options(
    cli: &Cli,
    mut builder: host::HttpCtxBuilder,
    env: impl Fn(&str) -> Option<String>,
) -> host::HttpCtxBuilder {
    // curl's order: lowercase first. An empty value is unset.
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| env(n).filter(|v| !v.trim().is_empty()))
    };
    // `proxy.corp:3128` is how these variables are often written: http, as curl reads it.
    let with_scheme = |v: String| {
        let v = v.trim().to_owned();
        if v.contains("://") {
            v
        } else {
            format!("http://{v}")
        }
    };
    let (mut http, mut https, mut no_proxy) = (None, None, Vec::new());
    if cli.proxy_from_env {
        // Never upper-case HTTP_PROXY (httpoxy, CVE-2016-5385): a CGI-style launcher turns
        // each request header into `HTTP_<NAME>`, so a client's `Proxy:` header becomes that
        // variable and would send every `http` request through the client's proxy. curl
        // ignores it for the same reason; no header can become HTTPS_PROXY or a lower-case name.
        http = var(&["http_proxy"]).map(with_scheme);
        https = var(&["https_proxy", "HTTPS_PROXY"]).map(with_scheme);
        // NO_PROXY means something only with a proxy to bypass.
        if http.is_some() || https.is_some() {
            no_proxy.extend(var(&["no_proxy", "NO_PROXY"]));
        }
    }
    if let Some(url) = &cli.proxy {
        http = Some(url.clone());
        https = Some(url.clone());
    }
    if !cli.no_proxy.is_empty() {
        no_proxy.clone_from(&cli.no_proxy);
    }
    if let Some(url) = http {
        builder = builder.http_proxy(url);
    }
    if let Some(url) = https {
        builder = builder.https_proxy(url);
    }
    let entries: Vec<String> = no_proxy
        .iter()
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    if !entries.is_empty() {
        builder = builder.no_proxy(entries);
    }
    if cli.proxy_allow_internal {
        builder = builder.proxy_allow_internal(true);
    }
    builder
}

/// The HTTP context: every production knob maps onto one builder call; an option left out
/// keeps the host's default, so the defaults live in one place (the host's `Limits`/`Timeouts`).
fn http_ctx(cli: &Cli, audit_log: Option<&host::JsonLinesLog>) -> wasmtime::Result<host::HttpCtx> {
    let mut timeouts = host::Timeouts::default();
    if let Some(d) = cli.connect_timeout {
        timeouts.connect = d;
    }
    if let Some(d) = cli.header_timeout {
        timeouts.response_header = d;
    }
    if let Some(d) = cli.idle_timeout {
        timeouts.idle = d;
    }
    if let Some(d) = cli.total_timeout {
        timeouts.total = d;
    }

    let mut limits = host::Limits::default();
    if let Some(n) = cli.max_response_body {
        limits.max_response_body = Some(n);
    }
    if let Some(n) = cli.max_request_body {
        limits.max_request_body = n;
    }

    if cli.allowed_hosts.is_empty() {
        log::info!("no --allowed-host given: every HTTP request of the guest will be refused");
    }
    let mut builder = host::HttpCtx::builder()
        .allowed_hosts(cli.allowed_hosts.iter().cloned())
        .timeouts(timeouts)
        .limits(limits)
        .only_custom_roots(cli.only_custom_roots);
    if let Some(n) = cli.concurrency {
        builder = builder.max_concurrent_requests(n);
    }
    if cli.allow_private_addresses {
        builder = builder.address_policy(host::AddressPolicy::AllowAll);
    }
    for path in &cli.ca_certs {
        let pem = std::fs::read(path)
            .with_context(|| format!("failed to read --ca-cert `{}`", path.display()))?;
        builder = builder
            .add_root_certificates_pem(&pem)
            .with_context(|| format!("bad --ca-cert `{}`", path.display()))?;
    }
    for i in &cli.inject_header {
        builder = builder.inject_header(&i.origin, &i.name, i.source.as_bytes());
    }
    for i in &cli.inject_header_env {
        // Not echoed anywhere: the error names the variable, never a value.
        let value = std::env::var_os(&i.source)
            .with_context(|| format!("--inject-header-env: variable `{}` is not set", i.source))?;
        builder = builder.inject_header(&i.origin, &i.name, value.into_encoded_bytes());
    }
    for i in &cli.inject_header_file {
        let mut value = std::fs::read(&i.source)
            .with_context(|| format!("--inject-header-file: cannot read `{}`", i.source))?;
        if value.last() == Some(&b'\n') {
            value.pop();
            if value.last() == Some(&b'\r') {
                value.pop();
            }
        }
        builder = builder.inject_header(&i.origin, &i.name, value);
    }
    for c in &cli.client_cert {
        let cert = std::fs::read(&c.cert)
            .with_context(|| format!("--client-cert: cannot read `{}`", c.cert.display()))?;
        let key = std::fs::read(&c.key)
            .with_context(|| format!("--client-cert: cannot read `{}`", c.key.display()))?;
        builder = builder.client_certificate(&c.origin, cert, key);
    }
    for limits in &cli.quota {
        let quota = host::Quota::new(*limits).context("bad --quota")?;
        builder = builder.quota(quota);
    }
    builder = proxy_options(cli, builder, |name| std::env::var(name).ok());
    if let Some(log) = audit_log {
        builder = builder.audit_query(cli.audit_query).audit_log(log);
    }
    let mut ctx = builder.build().context("invalid HTTP configuration")?;
    for (key, value) in &cli.label {
        ctx.set_label(key, value);
    }
    Ok(ctx)
}

/// `--audit-log`: JSON Lines appended to PATH (`-`: stderr), one event per line, written and
/// flushed within about a millisecond by the host's writer thread (`README.md`, "For
/// operators").
fn open_audit_log(path: &Path) -> wasmtime::Result<host::JsonLinesLog> {
    let log = if path == Path::new("-") {
        host::JsonLinesLog::new(std::io::stderr())
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("failed to open --audit-log `{}`", path.display()))?;
        host::JsonLinesLog::new(file)
    };
    log.context("failed to start the audit log writer")
}

/// The WASI context: host stdio, `argv`, `--env` variables and `--dir` preopens, nothing else
/// of the host (no inherited environment, no other files).
fn wasi_ctx(cli: &Cli) -> wasmtime::Result<WasiP1Ctx> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .inherit_stdio()
        .arg(argv0(cli.module()))
        .args(cli.args())
        .envs(&cli.env);
    for dir in &cli.dirs {
        builder
            .preopened_dir(&dir.host, &dir.guest, FsPerms::ReadWrite)
            .with_context(|| format!("failed to open --dir `{}`", dir.host.display()))?;
    }
    Ok(builder.build_p1())
}

/// The guest's `argv[0]`: the module's file name only, as `wasmtime run` does, so the host's
/// directory layout does not leak into the guest.
fn argv0(module: &Path) -> String {
    module
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Parses `args` as the parameters of `name`, one argument per parameter; arguments beyond
/// the parameter count are left to `argv` only, as in `wasmtime run --invoke`.
fn parse_params(
    name: &str,
    types: impl ExactSizeIterator<Item = ValType>,
    args: &[String],
) -> wasmtime::Result<Vec<Val>> {
    let count = types.len();
    if args.len() < count {
        return Err(format_err!(
            "`{name}` takes {count} parameter(s) but {} argument(s) were given",
            args.len()
        ));
    }
    types
        .zip(args)
        .enumerate()
        .map(|(i, (ty, arg))| {
            parse_param(&ty, arg)
                .map_err(|why| format_err!("parameter {} of `{name}`: {why}", i + 1))
        })
        .collect()
}

/// Parses one `--invoke` argument as a value of wasm type `ty`.
///
/// Integers are decimal, or hexadecimal with `0x`; since wasm integers have no sign, the
/// unsigned range is accepted too (`4294967295` is the i32 `-1`). Floats use Rust's syntax,
/// which includes `inf` and `NaN`.
fn parse_param(ty: &ValType, text: &str) -> Result<Val, String> {
    let bad = || format!("`{text}` is not a valid {ty}");
    match ty {
        ValType::I32 => parse_i32(text).map(Val::I32).ok_or_else(bad),
        ValType::I64 => parse_i64(text).map(Val::I64).ok_or_else(bad),
        ValType::F32 => text
            .parse::<f32>()
            .map(|f| Val::F32(f.to_bits()))
            .map_err(|_| bad()),
        ValType::F64 => text
            .parse::<f64>()
            .map(|f| Val::F64(f.to_bits()))
            .map_err(|_| bad()),
        other => Err(format!("parameters of type {other} are not supported")),
    }
}

/// An i32 argument: signed decimal, unsigned decimal (bits reinterpreted), or `0x` hex.
fn parse_i32(text: &str) -> Option<i32> {
    match hex_digits(text) {
        Some(hex) => u32::from_str_radix(hex?, 16).ok().map(u32::cast_signed),
        None => {
            (text.parse::<i32>().ok()).or_else(|| text.parse::<u32>().ok().map(u32::cast_signed))
        }
    }
}

/// An i64 argument: signed decimal, unsigned decimal (bits reinterpreted), or `0x` hex.
fn parse_i64(text: &str) -> Option<i64> {
    match hex_digits(text) {
        Some(hex) => u64::from_str_radix(hex?, 16).ok().map(u64::cast_signed),
        None => {
            (text.parse::<i64>().ok()).or_else(|| text.parse::<u64>().ok().map(u64::cast_signed))
        }
    }
}

/// `None` when `text` is not a `0x`/`0X` literal; `Some(None)` when it is one with bad digits.
/// The digits are checked here because `from_str_radix` would also accept a sign after `0x`.
fn hex_digits(text: &str) -> Option<Option<&str>> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))?;
    let valid = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit());
    Some(valid.then_some(digits))
}

/// Formats one result as `wasmtime run --invoke` prints it.
fn format_result(val: &Val) -> String {
    match val {
        Val::I32(i) => i.to_string(),
        Val::I64(i) => i.to_string(),
        Val::F32(bits) => f32::from_bits(*bits).to_string(),
        Val::F64(bits) => f64::from_bits(*bits).to_string(),
        Val::V128(v) => v.as_u128().to_string(),
        Val::FuncRef(_) => "<funcref>".to_owned(),
        Val::ExternRef(_) => "<externref>".to_owned(),
        Val::AnyRef(_) => "<anyref>".to_owned(),
        Val::ExnRef(_) => "<exnref>".to_owned(),
        Val::ContRef(_) => "<contref>".to_owned(),
    }
}

/// How a failed run ends the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The guest called `proc_exit` with this code: exit with it, print nothing.
    Exit(i32),
    /// The guest trapped: exit 128 + SIGABRT like `wasmtime run` (3 on Windows, like abort()).
    Trap,
    /// `--wall-timeout` stopped the guest: exit 124, like GNU `timeout`.
    WallTimeout,
    /// Anything else (module, instantiation, missing export, host configuration): exit 1.
    Other,
}

impl Failure {
    /// Finds the kind of failure anywhere in the error chain.
    pub(crate) fn classify(err: &wasmtime::Error) -> Failure {
        // First: once the budget ran out, the guest's exit or trap is only its consequence.
        if err.downcast_ref::<WallTimeout>().is_some() {
            Failure::WallTimeout
        } else if let Some(exit) = err.downcast_ref::<I32Exit>() {
            Failure::Exit(exit.0)
        } else if err.downcast_ref::<Trap>().is_some() {
            Failure::Trap
        } else {
            Failure::Other
        }
    }

    /// The one-line message for stderr, if this failure prints one.
    pub(crate) fn message(self, err: &wasmtime::Error) -> Option<String> {
        match self {
            Failure::Exit(_) => None,
            Failure::Trap | Failure::WallTimeout | Failure::Other => Some(one_line(err)),
        }
    }

    /// The process exit status.
    pub(crate) fn exit_code(self) -> ExitCode {
        match self {
            // WASI preview1 only lets a guest exit with 0..126; anything else is a host bug,
            // reported as a plain failure rather than truncated to 8 bits.
            Failure::Exit(code) => u8::try_from(code).map_or(ExitCode::FAILURE, ExitCode::from),
            Failure::Trap if cfg!(windows) => ExitCode::from(3),
            Failure::Trap => ExitCode::from(128 + 6),
            Failure::WallTimeout => ExitCode::from(124),
            Failure::Other => ExitCode::FAILURE,
        }
    }
}

/// The error chain on one line: `context: context: cause`. The wasm backtrace (a multi-line
/// context wasmtime attaches to traps) is left to the debug log; other multi-line messages
/// (e.g. a WAT syntax error with its source excerpt) keep only their first line.
fn one_line(err: &wasmtime::Error) -> String {
    let backtrace = err.downcast_ref::<WasmBacktrace>().map(ToString::to_string);
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if backtrace.as_ref() == Some(&text) {
            continue;
        }
        let first = text.lines().next().unwrap_or_default().trim();
        if !first.is_empty() && parts.last().map(String::as_str) != Some(first) {
            parts.push(first.to_owned());
        }
    }
    if parts.is_empty() {
        "unknown error".to_owned()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test, which is what we want.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use clap::Parser as _;

    /// What [`proxy_options`] made of `args` and `vars`, as the builder's (redacted) `Debug`
    /// shows its proxy settings.
    fn proxies(args: &[&str], vars: &[(&str, &str)]) -> String {
        let cli = Cli::try_parse_from(
            std::iter::once("wasmtime-http")
                .chain(args.iter().copied())
                .chain(["m.wasm"]),
        )
        .unwrap();
        let env = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let debug = format!("{:?}", proxy_options(&cli, host::HttpCtx::builder(), env));
        debug
            .split_once("proxy: ")
            .map(|(_, p)| p.to_owned())
            .unwrap()
    }

    #[test]
    fn proxy_variables_are_read_only_when_asked() {
        let vars = [
            ("HTTPS_PROXY", "proxy.corp:3128"),
            ("https_proxy", "http://lower:1"),
            ("http_proxy", "http://lower:2"),
            ("NO_PROXY", "a.example, .b.example,,"),
        ];
        let ignored = proxies(&[], &vars);
        assert!(ignored.contains("http: None, https: None"), "{ignored}");
        let read = proxies(&["--proxy-from-env"], &vars);
        assert!(
            read.contains(r#"http: Some("http://lower:2"), https: Some("http://lower:1")"#),
            "{read}"
        );
        assert!(
            read.contains(r#"no_proxy: ["a.example", ".b.example"]"#),
            "{read}"
        );
        // A value without a scheme is http; the flags override the variables.
        let read = proxies(
            &["--proxy-from-env", "--no-proxy", "c.example"],
            &[("HTTPS_PROXY", "proxy.corp:3128"), ("NO_PROXY", "x")],
        );
        assert!(
            read.contains(r#"https: Some("http://proxy.corp:3128")"#),
            "{read}"
        );
        assert!(read.contains(r#"no_proxy: ["c.example"]"#), "{read}");
        let read = proxies(
            &["--proxy-from-env", "--proxy", "http://u:pw@flag:3"],
            &vars,
        );
        assert!(
            read.contains(r#"http: Some("http://***@flag:3"), https: Some("http://***@flag:3")"#),
            "{read}"
        );
        // NO_PROXY alone configures nothing.
        let read = proxies(&["--proxy-from-env"], &[("NO_PROXY", "x")]);
        assert!(read.contains("no_proxy: []"), "{read}");
    }

    /// Which variables `--proxy-from-env` reads: every conventional one except upper-case
    /// HTTP_PROXY (httpoxy: under CGI it is the client's `Proxy:` request header).
    #[test]
    fn proxy_from_env_ignores_upper_case_http_proxy() {
        let table: &[(&[(&str, &str)], &str)] = &[
            (
                &[("HTTP_PROXY", "http://evil:1")],
                "http: None, https: None",
            ),
            (
                &[("HTTP_PROXY", "http://evil:1"), ("NO_PROXY", "x")],
                "http: None, https: None, no_proxy: []",
            ),
            (
                &[("http_proxy", "http://p:1")],
                r#"http: Some("http://p:1"), https: None"#,
            ),
            (
                &[
                    ("HTTP_PROXY", "http://evil:1"),
                    ("http_proxy", "http://p:1"),
                ],
                r#"http: Some("http://p:1"), https: None"#,
            ),
            (
                &[("HTTPS_PROXY", "http://p:2")],
                r#"http: None, https: Some("http://p:2")"#,
            ),
            (
                &[("https_proxy", "http://p:3")],
                r#"http: None, https: Some("http://p:3")"#,
            ),
            (
                &[
                    ("HTTPS_PROXY", "http://p:2"),
                    ("HTTP_PROXY", "http://evil:1"),
                ],
                r#"http: None, https: Some("http://p:2")"#,
            ),
            (
                &[("https_proxy", "http://p:3"), ("NO_PROXY", "a.example")],
                r#"no_proxy: ["a.example"]"#,
            ),
            (
                &[("https_proxy", "http://p:3"), ("no_proxy", "b.example")],
                r#"no_proxy: ["b.example"]"#,
            ),
        ];
        for (vars, want) in table {
            let got = proxies(&["--proxy-from-env"], vars);
            assert!(got.contains(want), "{vars:?}: {got}");
            assert!(!got.contains("evil"), "{vars:?}: {got}");
        }
    }

    fn i32_of(text: &str) -> Option<i32> {
        match parse_param(&ValType::I32, text) {
            Ok(Val::I32(i)) => Some(i),
            Ok(other) => panic!("wrong type {other:?}"),
            Err(_) => None,
        }
    }

    fn i64_of(text: &str) -> Option<i64> {
        match parse_param(&ValType::I64, text) {
            Ok(Val::I64(i)) => Some(i),
            Ok(other) => panic!("wrong type {other:?}"),
            Err(_) => None,
        }
    }

    #[test]
    fn i32_params() {
        let table: &[(&str, Option<i32>)] = &[
            ("0", Some(0)),
            ("42", Some(42)),
            ("-7", Some(-7)),
            ("+7", Some(7)),
            ("2147483647", Some(i32::MAX)),
            ("-2147483648", Some(i32::MIN)),
            // The unsigned range reinterprets the bits.
            ("2147483648", Some(i32::MIN)),
            ("4294967295", Some(-1)),
            ("0x10", Some(16)),
            ("0XfF", Some(255)),
            ("0xffffffff", Some(-1)),
            ("4294967296", None),
            ("-2147483649", None),
            ("0x100000000", None),
            ("0x", None),
            ("0x+1", None),
            ("-0x1", None),
            ("1.5", None),
            ("", None),
            (" 1", None),
            ("one", None),
        ];
        for (text, want) in table {
            assert_eq!(i32_of(text), *want, "{text:?}");
        }
    }

    #[test]
    fn i64_params() {
        assert_eq!(i64_of("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(i64_of("18446744073709551615"), Some(-1));
        assert_eq!(i64_of("0x7fffffffffffffff"), Some(i64::MAX));
        assert_eq!(i64_of("5000000000"), Some(5_000_000_000));
        assert_eq!(i64_of("18446744073709551616"), None);
        assert_eq!(i64_of("x"), None);
    }

    #[test]
    fn float_params() {
        match parse_param(&ValType::F32, "1.5") {
            Ok(Val::F32(bits)) => assert_eq!(f32::from_bits(bits), 1.5),
            other => panic!("{other:?}"),
        }
        match parse_param(&ValType::F64, "-2.5e3") {
            Ok(Val::F64(bits)) => assert_eq!(f64::from_bits(bits), -2500.0),
            other => panic!("{other:?}"),
        }
        match parse_param(&ValType::F64, "NaN") {
            Ok(Val::F64(bits)) => assert!(f64::from_bits(bits).is_nan()),
            other => panic!("{other:?}"),
        }
        assert!(parse_param(&ValType::F32, "1,5").is_err());
        assert!(parse_param(&ValType::F64, "0x1").is_err());
    }

    #[test]
    fn unsupported_param_types_are_errors() {
        let err = parse_param(&ValType::V128, "0").unwrap_err();
        assert!(err.contains("not supported"), "{err}");
    }

    #[test]
    fn params_take_args_in_order_and_ignore_extra() {
        let args = ["3".to_owned(), "2.5".to_owned(), "extra".to_owned()];
        let vals = parse_params("f", [ValType::I64, ValType::F32].into_iter(), &args).unwrap();
        assert!(matches!(vals[0], Val::I64(3)));
        assert!(matches!(vals[1], Val::F32(b) if f32::from_bits(b) == 2.5));
        assert_eq!(vals.len(), 2);
    }

    #[test]
    fn too_few_args_is_an_error_naming_the_function() {
        let args = ["1".to_owned()];
        let err = parse_params("add", [ValType::I32, ValType::I32].into_iter(), &args)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`add`") && err.contains("2 parameter"),
            "{err}"
        );
    }

    #[test]
    fn bad_arg_error_says_which_parameter() {
        let args = ["1".to_owned(), "x".to_owned()];
        let err = parse_params("add", [ValType::I32, ValType::I32].into_iter(), &args)
            .unwrap_err()
            .to_string();
        assert!(err.contains("parameter 2 of `add`"), "{err}");
        assert!(err.contains("`x` is not a valid i32"), "{err}");
    }

    #[test]
    fn results_format_like_wasmtime() {
        assert_eq!(format_result(&Val::I32(-1)), "-1");
        assert_eq!(format_result(&Val::I64(1 << 40)), "1099511627776");
        assert_eq!(format_result(&Val::F32(1.5f32.to_bits())), "1.5");
        assert_eq!(format_result(&Val::F64(2.0f64.to_bits())), "2");
        assert_eq!(format_result(&Val::FuncRef(None)), "<funcref>");
    }

    // Drift guard: `--help` states these numbers; the host's `Limits`/`Timeouts` own them.
    #[test]
    fn help_defaults_match_the_host_defaults() {
        let t = host::Timeouts::default();
        assert_eq!(t.connect, Duration::from_secs(5));
        assert_eq!(t.response_header, Duration::from_secs(10));
        assert_eq!(t.idle, Duration::from_secs(10));
        assert_eq!(t.total, Duration::from_secs(30));
        let l = host::Limits::default();
        assert_eq!(l.max_response_body, None);
        assert_eq!(l.max_request_body, 16 * 1024 * 1024);
    }

    #[test]
    fn argv0_is_the_file_name_only() {
        assert_eq!(argv0(Path::new("/some/dir/app.wasm")), "app.wasm");
        assert_eq!(argv0(Path::new("app.wasm")), "app.wasm");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Failure::Exit(0).exit_code(), ExitCode::from(0));
        assert_eq!(Failure::Exit(7).exit_code(), ExitCode::from(7));
        assert_eq!(Failure::Exit(300).exit_code(), ExitCode::FAILURE);
        assert_eq!(Failure::Exit(-1).exit_code(), ExitCode::FAILURE);
        assert_eq!(Failure::Other.exit_code(), ExitCode::FAILURE);
        assert_eq!(Failure::WallTimeout.exit_code(), ExitCode::from(124));
        if cfg!(unix) {
            assert_eq!(Failure::Trap.exit_code(), ExitCode::from(134));
        }
    }

    #[test]
    fn classify_finds_exit_and_trap_under_context() {
        let exit = wasmtime::Error::new(I32Exit(3)).context("failed to invoke `_start`");
        assert_eq!(Failure::classify(&exit), Failure::Exit(3));
        assert_eq!(Failure::Exit(3).message(&exit), None);

        let trap =
            wasmtime::Error::new(Trap::UnreachableCodeReached).context("failed to invoke `f`");
        assert_eq!(Failure::classify(&trap), Failure::Trap);
        let msg = Failure::Trap.message(&trap).unwrap();
        assert!(msg.starts_with("failed to invoke `f`: "), "{msg}");
        assert!(msg.contains("unreachable"), "{msg}");

        let other = format_err!("no such file").context("failed to load module `m.wasm`");
        assert_eq!(Failure::classify(&other), Failure::Other);
        assert_eq!(
            Failure::Other.message(&other).unwrap(),
            "failed to load module `m.wasm`: no such file"
        );
    }

    #[test]
    fn wall_timeout_wins_and_is_one_line_in_seconds_as_given() {
        let err = wasmtime::Error::new(WallTimeout(Duration::from_secs(1)));
        assert_eq!(Failure::classify(&err), Failure::WallTimeout);
        assert_eq!(
            Failure::WallTimeout.message(&err).unwrap(),
            "wall-clock timeout of 1s reached; the guest was stopped"
        );
        let err = wasmtime::Error::new(WallTimeout(Duration::from_millis(500)));
        let msg = Failure::WallTimeout.message(&err).unwrap();
        assert_eq!(
            msg,
            "wall-clock timeout of 0.5s reached; the guest was stopped"
        );
        assert_eq!(
            WallTimeout(Duration::from_millis(1250)).to_string(),
            "wall-clock timeout of 1.25s reached; the guest was stopped"
        );
    }

    #[test]
    fn one_line_keeps_first_line_of_each_cause() {
        let err = format_err!("expected `(`\n --> m.wat:1:1\n  |").context("failed to load");
        assert_eq!(one_line(&err), "failed to load: expected `(`");
    }
}
