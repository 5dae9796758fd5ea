//! `wasmtime-http`: `wasmtime run` for one core module, plus the `wasi_experimental_http`
//! host functions so the guest can make outbound HTTP requests.
//!
//! This file is the command line: option definitions, their value parsers, and the mapping of
//! every outcome to an exit status; `run.rs` does the wasmtime work.

// `deny`, not `forbid`: the one exception is `load::precompiled`, behind `--allow-precompiled`.
#![deny(unsafe_code)]

mod load;
mod run;
mod watchdog;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use clap::error::ErrorKind;
use wasi_experimental_http_host as host;

/// Text shown after the options in `--help`.
const AFTER_HELP: &str = "\
Outbound HTTP is denied unless --allowed-host admits the URL's origin. Entries look like
`https://example.com`, `http://127.0.0.1:8080`, `https://*.example.com`, `!https://deny.example.com`,
or `insecure:allow-all`. Loopback and private addresses are refused unless the entry names them
literally (or `localhost`), or --allow-private-addresses is given. Through a proxy, the proxy
resolves host names: the address checks then apply to the proxy's own address and to URLs that
name an IP address, not to the addresses host names reach.

DURATION, for every timeout and a quota's `per=`: a number with an optional unit, `ms`, `s`, `m`
or `h` (`500ms`, `2s`, `1.5s`, `5m`); a number without a unit is seconds (`0.5`).

Exit status: the guest's own exit code when it calls proc_exit with 0 to 125; 0 when the invoked
function returns; 134 (128 + SIGABRT, like `wasmtime run`) when the guest traps; 124 (like
`timeout`) when --wall-timeout stopped the guest, whatever it did after; 1 for every other error
(bad option, unreadable or invalid module, missing export, failed instantiation), and when the
guest calls proc_exit with 126 or more: wasmtime's WASI refuses those codes (the shell's own, for
a command that could not run or died of a signal), so AssemblyScript's abort(), which calls
proc_exit(255), ends with status 1 and the error `exit with invalid exit status`.

Logs go to stderr and are controlled with RUST_LOG, e.g.
RUST_LOG=wasmtime_http=debug,wasi_experimental_http_host=debug; at debug level a failure is
also logged with its full error chain and wasm backtrace.";

/// Runs a WebAssembly module with WASI preview1 and outbound HTTP (`wasi_experimental_http`).
#[derive(Debug, Parser)]
#[command(
    name = "wasmtime-http",
    version,
    override_usage = "wasmtime-http [OPTIONS] <MODULE> [--] [ARGS]...",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Origin the guest may send HTTP requests to (repeatable) [default: none, all denied]
    #[arg(short = 'a', long = "allowed-host", value_name = "ORIGIN")]
    pub allowed_hosts: Vec<String>,

    /// Maximum number of responses the guest may hold open at once [default: 16]
    #[arg(short = 'c', long = "concurrency", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,

    /// The name of the exported function to run; for a function other than `_start`, ARGS are
    /// parsed as its parameters (i32, i64, f32, f64) and its results printed one per line
    #[arg(
        short = 'i',
        long = "invoke",
        value_name = "NAME",
        default_value = "_start"
    )]
    pub invoke: String,

    /// Pass an environment variable to the guest (repeatable)
    #[arg(short = 'e', long = "env", value_name = "NAME=VAL", value_parser = Unechoed(parse_env_var))]
    pub env: Vec<(String, String)>,

    /// Grant the guest read-write access to a host directory, seen by the guest as GUEST_DIR
    /// [default GUEST_DIR: HOST_DIR as given] (repeatable)
    #[arg(long = "dir", value_name = "HOST_DIR[::GUEST_DIR]", value_parser = parse_dir)]
    pub dirs: Vec<Preopen>,

    /// Time allowed for the TCP connect, per address tried [default: 5s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub connect_timeout: Option<Duration>,

    /// Time from the connection being ready (TLS handshake included) until the response
    /// headers are complete [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub header_timeout: Option<Duration>,

    /// Time a connection may make no progress (TLS handshake, request, response head or
    /// body) [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,

    /// Overall time per request, from connect to the end of the body [default: 30s]
    #[arg(long = "timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub total_timeout: Option<Duration>,

    /// Wall-clock time the guest may run, from instantiation (compiling the module does not
    /// count), whether it is running wasm or waiting on HTTP; then it is stopped and the exit
    /// status is 124 [default: unlimited]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wall_timeout: Option<Duration>,

    /// PEM file with one or more root certificates to trust for HTTPS, in addition to the
    /// built-in Mozilla roots (repeatable) [default: built-in roots only]
    #[arg(long = "ca-cert", value_name = "PEM_FILE")]
    pub ca_certs: Vec<PathBuf>,

    /// Trust only the --ca-cert roots, not the built-in Mozilla roots [default: off]
    #[arg(long, requires = "ca_certs")]
    pub only_custom_roots: bool,

    /// Largest response body, in bytes, the guest may read [default: unlimited]
    #[arg(long = "max-body-size", value_name = "BYTES")]
    pub max_response_body: Option<u64>,

    /// Largest request body, in bytes, the guest may send [default: 16777216 (16 MiB)]
    #[arg(long = "max-request-body-size", value_name = "BYTES")]
    pub max_request_body: Option<usize>,

    /// Allow requests to loopback, private, link-local and other non-public addresses for every
    /// allowed host [default: off, only when the allow-list entry names the address]
    #[arg(long)]
    pub allow_private_addresses: bool,

    /// Add the header NAME: VALUE to the guest's requests to ORIGIN (an allow-list pattern);
    /// the guest never sees it and cannot set NAME there. The value is visible in the process
    /// list: prefer --inject-header-env or --inject-header-file for secrets (repeatable)
    #[arg(long, value_name = "ORIGIN=NAME:VALUE", value_parser = Unechoed(parse_injection))]
    pub inject_header: Vec<Injection>,

    /// Like --inject-header, with the value read from the environment variable VAR
    /// (repeatable)
    #[arg(long, value_name = "ORIGIN=NAME:VAR", value_parser = Unechoed(parse_injection))]
    pub inject_header_env: Vec<Injection>,

    /// Like --inject-header, with the value read from FILE (one trailing newline removed)
    /// (repeatable)
    #[arg(long, value_name = "ORIGIN=NAME:FILE", value_parser = Unechoed(parse_injection))]
    pub inject_header_file: Vec<Injection>,

    /// Present the client certificate chain CERT.pem with its private key KEY.pem (PEM files)
    /// to HTTPS origins matching ORIGIN, and to no other (repeatable; the first match wins)
    #[arg(long, value_name = "ORIGIN=CERT.pem,KEY.pem", value_parser = parse_client_cert)]
    pub client_cert: Vec<ClientCert>,

    /// Compile without wasmtime's compilation cache. The cache is on by default, as in
    /// `wasmtime run`: a module compiled once starts without recompiling [default: cache on]
    #[arg(long, conflicts_with = "cache_config")]
    pub no_cache: bool,

    /// The wasmtime cache configuration file [default: $HOME/.config/wasmtime/config.toml if
    /// it exists, else wasmtime's defaults]
    #[arg(long, value_name = "PATH")]
    pub cache_config: Option<PathBuf>,

    /// Accept a module precompiled by `wasmtime compile` (`.cwasm`). Such a file is native
    /// code that is loaded without verification: pass this only for files you trust as much
    /// as this program [default: off, precompiled modules are refused]
    #[arg(long)]
    pub allow_precompiled: bool,

    /// Write one JSON object per line for every HTTP request of the guest (denied, completed)
    /// to PATH, appending; `-` for stderr. Each line is written and flushed within about a
    /// millisecond [default: none]
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,

    /// Show URL query strings in the audit log (they often carry tokens) [default: paths only]
    #[arg(long, requires = "audit_log")]
    pub audit_query: bool,

    /// A label on every audit event, e.g. `tenant=acme` (repeatable)
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_env_var)]
    pub label: Vec<(String, String)>,

    /// An egress quota: comma-separated `requests=N`, `sent=BYTES`, `received=BYTES` and
    /// optionally `per=DURATION` for a rate (token bucket) instead of a total for the run.
    /// BYTES takes K, M, G suffixes (1024-based); DURATION is as for the timeouts (`500ms`,
    /// `10s`, `5m`, `1h`).
    /// Repeatable; every quota applies. Going over is error code 37 (quota_exceeded)
    /// [default: none]
    #[arg(long, value_name = "SPEC", value_parser = parse_quota)]
    pub quota: Vec<host::QuotaLimits>,

    /// Send the guest's requests through this HTTP proxy, `http://[USER:PASSWORD@]HOST:PORT`:
    /// https URLs through a CONNECT tunnel (TLS stays end to end with the origin), http URLs in
    /// absolute-form. The allow-list still decides first. A password here is visible in the
    /// process list: prefer --proxy-from-env [default: none, direct connections]
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,

    /// Hosts that bypass the proxy, comma-separated, as curl's NO_PROXY: `*`, a name (and every
    /// name below it), an IP address or a CIDR range such as 10.0.0.0/8; no ports (repeatable)
    /// [default: none]
    #[arg(long = "no-proxy", value_name = "LIST")]
    pub no_proxy: Vec<String>,

    /// Take the proxy from the environment: https_proxy or HTTPS_PROXY for https URLs,
    /// http_proxy for http URLs, no_proxy or NO_PROXY (lowercase first; a value without
    /// `scheme://` means http://). Upper-case HTTP_PROXY is ignored, as curl does: CGI servers
    /// set it from a request's `Proxy:` header (httpoxy). --proxy and --no-proxy override them
    /// [default: off, proxy variables are ignored]
    #[arg(long)]
    pub proxy_from_env: bool,

    /// Let the proxy's host name resolve to a loopback or private address (a proxy given by
    /// its IP address needs no opt-in) [default: off]
    #[arg(long)]
    pub proxy_allow_internal: bool,

    /// The WebAssembly module to run (binary or text format), then the arguments to pass to it
    // One positional holds both, as in `wasmtime run`: once MODULE is seen, every later word
    // belongs to the guest even if it looks like an option. Two positionals would let clap
    // take `m.wasm -a x` as our `-a`.
    #[arg(
        value_name = "MODULE",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    module_and_args: Vec<String>,
}

impl Cli {
    /// The path of the module to run.
    pub fn module(&self) -> &Path {
        Path::new(self.module_and_args.first().map_or("", String::as_str))
    }

    /// The arguments after the module (the guest's argv from argv[1] on), without the
    /// optional `--` that may separate them from the module.
    pub fn args(&self) -> &[String] {
        match self.module_and_args.get(1..).unwrap_or_default() {
            [dashes, rest @ ..] if dashes == "--" => rest,
            args => args,
        }
    }
}

/// A `--dir` preopen: a host directory and the path the guest sees it under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    /// Directory on the host.
    pub host: PathBuf,
    /// Path under which the guest sees it.
    pub guest: String,
}

/// Parses `NAME=VAL`; the value may contain `=` and may be empty, the name may not.
fn parse_env_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some(("", _)) => Err("the variable name is empty".to_owned()),
        Some((name, value)) => Ok((name.to_owned(), value.to_owned())),
        None => Err("expected NAME=VAL".to_owned()),
    }
}

/// Parses `HOST_DIR[::GUEST_DIR]`, the syntax of `wasmtime run --dir`.
fn parse_dir(s: &str) -> Result<Preopen, String> {
    let (host, guest) = s.split_once("::").unwrap_or((s, s));
    if host.is_empty() || guest.is_empty() {
        return Err("expected HOST_DIR or HOST_DIR::GUEST_DIR, neither empty".to_owned());
    }
    Ok(Preopen {
        host: PathBuf::from(host),
        guest: guest.to_owned(),
    })
}

/// An `--inject-header*` option: the origin pattern, the field name, and the value or where
/// to read it (the variable name or the file path, by option). `Debug` redacts the source: for
/// `--inject-header` it is the secret itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Injection {
    /// Allow-list pattern of the origins that get the field.
    pub origin: String,
    /// Field name.
    pub name: String,
    /// The value, an environment variable name, or a file path.
    pub source: String,
}

impl std::fmt::Debug for Injection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injection")
            .field("origin", &self.origin)
            .field("name", &self.name)
            .field("source", &"<redacted>")
            .finish()
    }
}

/// Parses `ORIGIN=NAME:REST` (the origin pattern has no `=`; the name has no `:`).
fn parse_injection(s: &str) -> Result<Injection, String> {
    let (origin, field) = s
        .split_once('=')
        .ok_or("expected ORIGIN=NAME:VALUE (e.g. https://api.example.com=authorization:...)")?;
    let (name, source) = field
        .split_once(':')
        .ok_or("expected NAME:VALUE after `=`")?;
    if origin.is_empty() || name.is_empty() {
        return Err("the origin and the header name must not be empty".to_owned());
    }
    Ok(Injection {
        origin: origin.to_owned(),
        name: name.to_owned(),
        source: source.to_owned(),
    })
}

/// A `--client-cert` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// Allow-list pattern of the origins the certificate is presented to.
    pub origin: String,
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Parses `ORIGIN=CERT.pem,KEY.pem`.
fn parse_client_cert(s: &str) -> Result<ClientCert, String> {
    let (origin, files) = s
        .split_once('=')
        .ok_or("expected ORIGIN=CERT.pem,KEY.pem")?;
    let (cert, key) = files
        .split_once(',')
        .ok_or("expected CERT.pem,KEY.pem after `=`")?;
    if origin.is_empty() || cert.is_empty() || key.is_empty() {
        return Err("expected ORIGIN=CERT.pem,KEY.pem, none empty".to_owned());
    }
    Ok(ClientCert {
        origin: origin.to_owned(),
        cert: PathBuf::from(cert),
        key: PathBuf::from(key),
    })
}

/// Parses a `--quota` SPEC: `requests=100,per=10s`, `received=1G`, `sent=10M,requests=1000`.
fn parse_quota(s: &str) -> Result<host::QuotaLimits, String> {
    let mut q = host::QuotaLimits::default();
    for part in s.split(',') {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: expected KEY=VALUE"))?;
        let slot = match key.trim() {
            "requests" => &mut q.requests,
            "sent" => &mut q.sent_bytes,
            "received" => &mut q.received_bytes,
            "per" => {
                if q.window.is_some() {
                    return Err("`per` given twice".to_owned());
                }
                q.window = Some(parse_duration(value.trim())?);
                continue;
            }
            other => {
                return Err(format!(
                    "unknown quota `{other}` (requests, sent, received, per)"
                ));
            }
        };
        if slot.is_some() {
            return Err(format!("`{}` given twice", key.trim()));
        }
        *slot = Some(parse_size(value.trim())?);
    }
    if q.requests.is_none() && q.sent_bytes.is_none() && q.received_bytes.is_none() {
        return Err("a quota needs requests=, sent= or received=".to_owned());
    }
    Ok(q)
}

/// Parses a count or size: digits with an optional K, M or G suffix (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, unit) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (s.get(..i), 1u64 << 10),
        Some((i, 'M' | 'm')) => (s.get(..i), 1 << 20),
        Some((i, 'G' | 'g')) => (s.get(..i), 1 << 30),
        _ => (Some(s), 1),
    };
    digits
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u64>().ok())
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| format!("`{s}` is not a number (K, M, G suffixes allowed)"))
}

/// Parses a DURATION (`--help`): digits with an optional fraction (`1.5`), then an optional
/// unit, `ms`, `s`, `m` or `h`; without a unit, seconds. Computed in whole nanoseconds, so
/// `0.1s` is exactly 100 ms; at most nine fractional digits. Zero is refused: a zero timeout
/// would fail every request and a zero window means nothing.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    let bad =
        || format!("`{s}`: expected a number and an optional unit ms, s, m or h (`500ms`, `1.5s`)");
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let nanos_per_unit: u128 = match unit {
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(bad()),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !digits_ok(whole)
        || !digits_ok(fraction)
        || (number.contains('.') && fraction.is_empty())
        || fraction.len() > 9
    {
        return Err(bad());
    }
    let whole: u128 = whole
        .parse()
        .map_err(|_| format!("`{s}` is out of range"))?;
    let scale = 10u128.pow(u32::try_from(fraction.len()).unwrap_or(9));
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| bad())?
    };
    let nanos = whole
        .checked_mul(nanos_per_unit)
        .and_then(|n| n.checked_add(fraction * nanos_per_unit / scale))
        .ok_or_else(|| format!("`{s}` is out of range"))?;
    if nanos == 0 {
        return Err("must be longer than zero".to_owned());
    }
    let secs =
        u64::try_from(nanos / 1_000_000_000).map_err(|_| format!("`{s}` is out of range"))?;
    let subsec =
        u32::try_from(nanos % 1_000_000_000).map_err(|_| format!("`{s}` is out of range"))?;
    Ok(Duration::new(secs, subsec))
}

/// A value parser that never repeats the rejected value in its error, for options whose value
/// may be a secret: an injected header's value (`--inject-header`), and, by the same rule,
/// their siblings and the guest's environment (`--env`). clap's own error for a value parser's
/// `Err` quotes the whole argument, secret included.
#[derive(Clone)]
struct Unechoed<T>(fn(&str) -> Result<T, String>);

impl<T: Clone + Send + Sync + 'static> clap::builder::TypedValueParser for Unechoed<T> {
    type Value = T;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let why = match value.to_str() {
            Some(text) => match (self.0)(text) {
                Ok(parsed) => return Ok(parsed),
                Err(why) => why,
            },
            None => "not valid UTF-8".to_owned(),
        };
        let option = arg.map_or_else(|| "an option".to_owned(), |a| format!("'{a}'"));
        Err(clap::Error::raw(
            ErrorKind::ValueValidation,
            format!(
                "invalid value for {option}: {why} (the value is not shown: it may hold a secret)\n"
            ),
        ))
    }
}

/// Clap's message as one line: its first paragraph (`error: ...` plus, for some errors, an
/// indented detail such as the missing argument), without the usage and tips that follow.
/// Clap's own exit status for usage errors is 2; this CLI uses 1 for every error of its own.
fn usage_error_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let first_paragraph: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .collect();
    let message = first_paragraph.join(" ");
    if message.is_empty() {
        "error: invalid arguments (see --help)".to_owned()
    } else {
        format!("{message} (see --help)")
    }
}

fn main() -> ExitCode {
    env_logger::init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            return match err.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    // Help and version are not errors; clap prints them to stdout.
                    let _ = err.print();
                    if err.use_stderr() {
                        ExitCode::FAILURE
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                _ => {
                    eprintln!("{}", usage_error_line(&err));
                    ExitCode::FAILURE
                }
            };
        }
    };
    match run::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let outcome = run::Failure::classify(&err);
            log::debug!("{err:?}");
            if let Some(message) = outcome.message(&err) {
                eprintln!("error: {message}");
            }
            outcome.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test, which is what we want.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("wasmtime-http").chain(args.iter().copied()))
    }

    #[test]
    fn module_only_uses_defaults() {
        let cli = parse(&["m.wasm"]).unwrap();
        assert_eq!(cli.module(), PathBuf::from("m.wasm"));
        assert_eq!(cli.invoke, "_start");
        assert!(cli.allowed_hosts.is_empty());
        assert_eq!(cli.concurrency, None);
        assert!(cli.args().is_empty());
        assert!(!cli.only_custom_roots);
        assert!(!cli.allow_private_addresses);
        assert_eq!(cli.total_timeout, None);
        assert_eq!(cli.wall_timeout, None);
    }

    #[test]
    fn module_is_required() {
        assert_eq!(
            parse(&[]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn allowed_host_is_repeatable_one_value_each() {
        let cli = parse(&[
            "-a",
            "https://a.example",
            "--allowed-host",
            "http://127.0.0.1:8080",
            "m.wasm",
        ])
        .unwrap();
        assert_eq!(
            cli.allowed_hosts,
            ["https://a.example", "http://127.0.0.1:8080"]
        );
        // One value per flag: the next word is the module, not a second host.
        assert_eq!(cli.module(), PathBuf::from("m.wasm"));
    }

    #[test]
    fn comma_separated_hosts_are_not_split() {
        let cli = parse(&["-a", "https://a.example,https://b.example", "m.wasm"]).unwrap();
        assert_eq!(cli.allowed_hosts, ["https://a.example,https://b.example"]);
    }

    #[test]
    fn words_after_the_module_belong_to_the_guest() {
        let cli = parse(&[
            "-a", "http://x", "m.wasm", "-a", "--env", "x", "-c", "--bogus",
        ])
        .unwrap();
        assert_eq!(cli.allowed_hosts, ["http://x"]);
        assert!(cli.env.is_empty());
        assert_eq!(cli.args(), ["-a", "--env", "x", "-c", "--bogus"]);
    }

    #[test]
    fn double_dash_separates_guest_arguments() {
        let cli = parse(&["m.wasm", "--", "--help", "x"]).unwrap();
        assert_eq!(cli.module(), PathBuf::from("m.wasm"));
        assert_eq!(cli.args(), ["--help", "x"]);

        let cli = parse(&["--", "m.wasm", "-V"]).unwrap();
        assert_eq!(cli.module(), PathBuf::from("m.wasm"));
        assert_eq!(cli.args(), ["-V"]);

        // Only the first `--` is a separator; a guest can still receive one.
        let cli = parse(&["m.wasm", "--", "--", "x"]).unwrap();
        assert_eq!(cli.args(), ["--", "x"]);
        let cli = parse(&["m.wasm", "x", "--"]).unwrap();
        assert_eq!(cli.args(), ["x", "--"]);
    }

    #[test]
    fn concurrency_must_be_a_positive_integer() {
        assert_eq!(parse(&["-c", "3", "m.wasm"]).unwrap().concurrency, Some(3));
        for bad in ["0", "-1", "x", "4294967296"] {
            assert!(parse(&["-c", bad, "m.wasm"]).is_err(), "{bad}");
        }
    }

    #[test]
    fn invoke_and_env() {
        let cli = parse(&[
            "-i", "add", "-e", "A=1", "--env", "B=x=y", "-e", "C=", "m.wasm",
        ]);
        let cli = cli.unwrap();
        assert_eq!(cli.invoke, "add");
        assert_eq!(
            cli.env,
            [
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "x=y".to_owned()),
                ("C".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn env_needs_a_name_and_an_equals_sign() {
        assert!(parse(&["-e", "NOEQUALS", "m.wasm"]).is_err());
        assert!(parse(&["-e", "=v", "m.wasm"]).is_err());
    }

    #[test]
    fn dir_with_and_without_guest_path() {
        let cli = parse(&["--dir", "/tmp/a", "--dir", "/tmp/b::/data", "m.wasm"]).unwrap();
        assert_eq!(
            cli.dirs,
            [
                Preopen {
                    host: "/tmp/a".into(),
                    guest: "/tmp/a".into()
                },
                Preopen {
                    host: "/tmp/b".into(),
                    guest: "/data".into()
                },
            ]
        );
        assert!(parse(&["--dir", "::/data", "m.wasm"]).is_err());
        assert!(parse(&["--dir", "/tmp::", "m.wasm"]).is_err());
    }

    #[test]
    fn timeouts_accept_fractional_seconds() {
        let cli = parse(&[
            "--connect-timeout",
            "0.5",
            "--header-timeout",
            "2",
            "--idle-timeout",
            "1.25",
            "--timeout",
            "60",
            "m.wasm",
        ])
        .unwrap();
        assert_eq!(cli.connect_timeout, Some(Duration::from_millis(500)));
        assert_eq!(cli.header_timeout, Some(Duration::from_secs(2)));
        assert_eq!(cli.idle_timeout, Some(Duration::from_millis(1250)));
        assert_eq!(cli.total_timeout, Some(Duration::from_secs(60)));
    }

    #[test]
    fn timeouts_reject_non_positive_and_garbage() {
        for bad in [
            "0", "0s", "-1", "NaN", "inf", "1e30", "5x", "", "5 s", ".5", "1.", "+1",
        ] {
            assert!(parse(&["--timeout", bad, "m.wasm"]).is_err(), "{bad:?}");
        }
    }

    /// One DURATION syntax for every timeout and a quota's `per=`: the old spellings (plain
    /// seconds for the timeouts, a unit for `per=`) and each other's.
    #[test]
    fn every_duration_option_takes_one_syntax() {
        let table: &[(&str, Duration)] = &[
            ("500ms", Duration::from_millis(500)),
            ("2s", Duration::from_secs(2)),
            ("1.5s", Duration::from_millis(1500)),
            ("0.1s", Duration::from_millis(100)),
            ("2", Duration::from_secs(2)),
            ("0.5", Duration::from_millis(500)),
            (" 2.25 ", Duration::from_millis(2250)),
            ("1.5ms", Duration::from_micros(1500)),
            ("5m", Duration::from_secs(300)),
            ("1.5m", Duration::from_secs(90)),
            ("1h", Duration::from_secs(3600)),
            ("0.000000001", Duration::from_nanos(1)),
        ];
        let options = [
            "--connect-timeout",
            "--header-timeout",
            "--idle-timeout",
            "--timeout",
            "--wall-timeout",
        ];
        for (text, want) in table {
            for option in options {
                let cli = parse(&[option, text, "m.wasm"])
                    .unwrap_or_else(|e| panic!("{option} {text:?}: {e}"));
                let got = [
                    cli.connect_timeout,
                    cli.header_timeout,
                    cli.idle_timeout,
                    cli.total_timeout,
                    cli.wall_timeout,
                ];
                assert_eq!(
                    got.iter().flatten().collect::<Vec<_>>(),
                    [want],
                    "{option} {text:?}"
                );
            }
            let spec = format!("requests=1,per={text}");
            let cli = parse(&["--quota", &spec, "m.wasm"]).unwrap();
            assert_eq!(cli.quota[0].window, Some(*want), "per={text:?}");
        }
        for bad in [
            "0ms",
            "0",
            "0.0000000001",
            "1.5x",
            "ms",
            "1e3s",
            "18446744073709551616h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
            let spec = format!("requests=1,per={bad}");
            assert!(parse(&["--quota", &spec, "m.wasm"]).is_err(), "per={bad:?}");
        }
    }

    #[test]
    fn wall_timeout_is_parsed_like_the_other_timeouts() {
        let secs = |v: &str| parse(&["--wall-timeout", v, "m.wasm"]).map(|c| c.wall_timeout);
        assert_eq!(secs("1").unwrap(), Some(Duration::from_secs(1)));
        assert_eq!(secs("0.5").unwrap(), Some(Duration::from_millis(500)));
        assert_eq!(secs(" 2.25 ").unwrap(), Some(Duration::from_millis(2250)));
        assert_eq!(secs("5s").unwrap(), Some(Duration::from_secs(5)));
        for bad in ["0", "-1", "NaN", "inf", "1e30", ""] {
            assert!(secs(bad).is_err(), "{bad:?}");
        }
        // An option of ours only before the module; after it, the guest's argument.
        let cli = parse(&["m.wasm", "--wall-timeout", "1"]).unwrap();
        assert_eq!(cli.wall_timeout, None);
        assert_eq!(cli.args(), ["--wall-timeout", "1"]);
    }

    #[test]
    fn tls_and_limit_options() {
        let cli = parse(&[
            "--ca-cert",
            "a.pem",
            "--ca-cert",
            "b.pem",
            "--only-custom-roots",
            "--max-body-size",
            "1000",
            "--max-request-body-size",
            "20",
            "--allow-private-addresses",
            "m.wasm",
        ])
        .unwrap();
        assert_eq!(cli.ca_certs, [PathBuf::from("a.pem"), "b.pem".into()]);
        assert!(cli.only_custom_roots);
        assert_eq!(cli.max_response_body, Some(1000));
        assert_eq!(cli.max_request_body, Some(20));
        assert!(cli.allow_private_addresses);
    }

    #[test]
    fn only_custom_roots_requires_a_ca_cert() {
        assert_eq!(
            parse(&["--only-custom-roots", "m.wasm"])
                .unwrap_err()
                .kind(),
            ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn sizes_must_be_non_negative_integers() {
        assert!(parse(&["--max-body-size", "-1", "m.wasm"]).is_err());
        assert!(parse(&["--max-request-body-size", "1.5", "m.wasm"]).is_err());
    }

    #[test]
    fn unknown_option_is_an_error() {
        assert_eq!(
            parse(&["--frobnicate", "m.wasm"]).unwrap_err().kind(),
            ErrorKind::UnknownArgument
        );
    }

    #[test]
    fn usage_error_is_one_line_starting_with_error() {
        let err = parse(&["--frobnicate", "m.wasm"]).unwrap_err();
        let line = usage_error_line(&err);
        assert!(line.starts_with("error: "), "{line}");
        assert!(line.contains("--frobnicate"), "{line}");
        assert!(!line.contains('\n'), "{line}");
        // No colour escapes even if clap decided to style the message.
        assert!(!line.contains('\u{1b}'), "{line}");
    }

    #[test]
    fn missing_module_error_names_it_on_one_line() {
        let line = usage_error_line(&parse(&[]).unwrap_err());
        assert!(line.starts_with("error: "), "{line}");
        assert!(line.contains("<MODULE>"), "{line}");
        assert!(!line.contains('\n') && !line.contains("Usage"), "{line}");
    }

    #[test]
    fn help_and_version_are_not_errors() {
        assert_eq!(
            parse(&["--help"]).unwrap_err().kind(),
            ErrorKind::DisplayHelp
        );
        assert_eq!(parse(&["-h"]).unwrap_err().kind(), ErrorKind::DisplayHelp);
        assert_eq!(
            parse(&["-V"]).unwrap_err().kind(),
            ErrorKind::DisplayVersion
        );
    }

    #[test]
    fn help_states_every_default() {
        let help = <Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for needle in [
            "[default: none, all denied]",
            "[default: 16]",
            "[default: _start]",
            "[default: 5s]",
            "[default: 10s]",
            "[default: 30s]",
            "Wall-clock time the guest may run",
            "the exit status is 124 [default: unlimited]",
            "124 (like\n`timeout`) when --wall-timeout stopped the guest",
            "[default: unlimited]",
            "[default: 16777216 (16 MiB)]",
            "[default: built-in roots only]",
        ] {
            assert!(help.contains(needle), "missing {needle:?} in help");
        }
    }

    #[test]
    fn proxy_options() {
        let cli = parse(&[
            "--proxy",
            "http://127.0.0.1:3128",
            "--no-proxy",
            "a.example, b.example",
            "--no-proxy",
            "10.0.0.0/8",
            "--proxy-from-env",
            "--proxy-allow-internal",
            "m.wasm",
        ])
        .unwrap();
        assert_eq!(cli.proxy.as_deref(), Some("http://127.0.0.1:3128"));
        assert_eq!(cli.no_proxy, ["a.example, b.example", "10.0.0.0/8"]);
        assert!(cli.proxy_from_env && cli.proxy_allow_internal);
        let cli = parse(&["m.wasm"]).unwrap();
        assert!(cli.proxy.is_none() && !cli.proxy_from_env && cli.no_proxy.is_empty());
    }

    /// A rejected value of an option that may carry a secret is never quoted in the error,
    /// whatever is wrong with it; the error still names the option.
    #[test]
    fn rejected_secret_values_are_not_echoed() {
        const SECRET: &str = "s3cr3t-4a1f";
        for (option, value) in [
            (
                "--inject-header",
                format!("https://a.example/authorization:Bearer {SECRET}"),
            ),
            (
                "--inject-header",
                format!("https://a.example=authorization Bearer {SECRET}"),
            ),
            ("--inject-header", format!("=authorization:{SECRET}")),
            ("--inject-header-env", SECRET.to_owned()),
            (
                "--inject-header-file",
                format!("https://a.example={SECRET}"),
            ),
            ("--env", format!("TOKEN:{SECRET}")),
            ("-e", format!("={SECRET}")),
        ] {
            let err = parse(&[option, &value, "m.wasm"]).unwrap_err();
            let line = usage_error_line(&err);
            assert!(!line.contains(SECRET), "{option}: {line}");
            assert!(
                line.starts_with("error: invalid value for '-"),
                "{option}: {line}"
            );
            assert!(line.contains("not shown"), "{option}: {line}");
        }
        // Not UTF-8: refused without the bytes either.
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt as _;
            let value = std::ffi::OsStr::from_bytes(b"https://a.example=x:\xff s3cr3t-4a1f");
            let err = Cli::try_parse_from([
                std::ffi::OsStr::new("wasmtime-http"),
                std::ffi::OsStr::new("--inject-header"),
                value,
                std::ffi::OsStr::new("m.wasm"),
            ])
            .unwrap_err();
            let line = usage_error_line(&err);
            assert!(!line.contains(SECRET) && line.contains("UTF-8"), "{line}");
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }
}
