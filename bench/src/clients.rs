//! The clients the benchmark compares, each doing `n` sequential GETs of one URL and reading
//! every body to the end: the wasm guest through this host, a raw socket (the floor), `ureq` and
//! `curl`. Each returns the wall time of the `n` requests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::guests::guest_wasm;
use e2e::run::run_guest;
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use wasi_experimental_http_host::HttpCtx;

/// Where the requests go: an origin (`http://127.0.0.1:PORT` or `https://...`) and a path, plus
/// the PEM of the CA that issued the server's certificate for HTTPS.
#[derive(Clone)]
pub(crate) struct Target {
    /// `scheme://host:port`, no trailing slash.
    pub(crate) origin: String,
    /// Path (and query) of the small resource.
    pub(crate) path: String,
    /// The test CA for HTTPS origins.
    pub(crate) ca_pem: Option<String>,
}

impl Target {
    /// The whole URL.
    pub(crate) fn url(&self) -> String {
        format!("{}{}", self.origin, self.path)
    }

    fn is_tls(&self) -> bool {
        self.origin.starts_with("https://")
    }

    fn authority(&self) -> &str {
        self.origin.split("://").nth(1).unwrap()
    }
}

/// A client under comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Client {
    /// A native Rust loop over one raw socket (rustls for HTTPS): the floor.
    Raw,
    /// The `fetch` wasm guest through this host.
    Guest,
    /// `ureq` 3, one agent.
    Ureq,
    /// One `curl` process with `n` URLs (URL globbing), reusing its connection.
    Curl,
    /// Another host running the same workload in its own wasm guest (`bench/peers/`).
    Peer(Peer),
}

/// A peer host, built outside the workspace (`bench/peers/*/build`) and run as a child process
/// that follows `bench/peers/PROTOCOL.md`: it times its own requests (compiling its guest
/// before the clock starts) and prints `ns <elapsed>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    /// The original `wasi-experimental-http-wasmtime` 0.10 (wasmtime 0.35, reqwest).
    Original,
    /// wasmtime's own `wasmtime-wasi-http` 48 with a `wasm32-wasip2` component.
    WasiHttp,
}

impl Peer {
    /// Every peer.
    pub(crate) const ALL: [Peer; 2] = [Peer::Original, Peer::WasiHttp];

    fn binary(self) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers");
        match self {
            Peer::Original => dir.join("original-0.10/target/release/original-host"),
            Peer::WasiHttp => dir.join("wasi-http/target/release/wasi-http-host"),
        }
    }

    /// The command that builds it.
    pub(crate) fn build_command(self) -> &'static str {
        match self {
            Peer::Original => "bench/peers/original-0.10/build",
            Peer::WasiHttp => "bench/peers/wasi-http/build",
        }
    }

    /// Whether it has been built.
    pub(crate) fn available(self) -> bool {
        self.binary().is_file()
    }

    /// Runs the peer with `args`: the `(key, value)` lines of its output, or `None` when it
    /// cannot do that workload (exit code 3, e.g. no way to trust the test CA).
    fn run(self, args: &[&str]) -> Option<Vec<(String, u64)>> {
        let out = Command::new(self.binary()).args(args).output().unwrap();
        if out.status.code() == Some(3) {
            return None;
        }
        assert!(
            out.status.success(),
            "{self:?} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| {
                    let (k, v) = l.split_once(' ')?;
                    Some((k.to_string(), v.trim().parse().ok()?))
                })
                .collect(),
        )
    }

    /// The most requests a round gives it: the original host takes ~80 ms a request (a new
    /// client, runtime and connection each), so its rounds are shorter; the tables compare
    /// time per request.
    pub(crate) fn max_requests(self) -> usize {
        match self {
            Peer::Original => 50,
            Peer::WasiHttp => 1000,
        }
    }

    /// `n` requests (at most [`Peer::max_requests`]); the time, scaled to `n`.
    fn requests(self, target: &Target, n: usize, reuse: bool) -> Option<Duration> {
        let done = n.min(self.max_requests());
        let (url, done_text) = (target.url(), done.to_string());
        let ca = ca_file(target);
        let mut args = vec!["requests", &url, &done_text, if reuse { "1" } else { "0" }];
        let ca = ca.as_ref().map(|p| p.to_string_lossy().into_owned());
        if let Some(ca) = &ca {
            args.push(ca);
        }
        let lines = self.run(&args)?;
        let ns = lines
            .iter()
            .find(|(k, _)| k == "ns")
            .expect("no `ns` line")
            .1;
        // Scaled to `n`: the tables divide by `n`.
        Some(Duration::from_nanos(
            ns.saturating_mul(n as u64) / done.max(1) as u64,
        ))
    }

    /// Streams `bytes` from `url` with reads of `buf`: the time and the process's peak RSS
    /// (KiB), or `None` if it cannot.
    pub(crate) fn stream(self, url: &str, bytes: u64, buf: usize) -> Option<(Duration, u64)> {
        let (bytes, buf) = (bytes.to_string(), buf.to_string());
        let lines = self.run(&["stream", url, &bytes, &buf])?;
        let get = |key: &str| lines.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
        Some((
            Duration::from_nanos(get("ns").expect("no `ns` line")),
            get("rss_kib").expect("no `rss_kib` line"),
        ))
    }
}

impl Client {
    /// The label in the tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Client::Raw => "native raw socket (floor)",
            Client::Guest => "wasm guest via this host",
            Client::Ureq => "ureq 3 (native)",
            Client::Curl => "curl, one process, URL glob",
            Client::Peer(Peer::Original) => "original 0.10 host (wasmtime 0.35, reqwest)",
            Client::Peer(Peer::WasiHttp) => "wasi:http (wasmtime-wasi-http 48, wasip2 component)",
        }
    }

    /// `n` sequential GETs of `target`, reusing one connection or opening one per request;
    /// `None` when the client cannot (a peer without a way to trust the test CA).
    pub(crate) fn run(self, target: &Target, n: usize, reuse: bool) -> Option<Duration> {
        Some(match self {
            Client::Raw => raw_requests(target, n, reuse),
            Client::Guest => guest_requests(target, n, reuse),
            Client::Ureq => ureq_requests(target, n, reuse),
            Client::Curl => curl_requests(target, n, reuse),
            Client::Peer(peer) => return peer.requests(target, n, reuse),
        })
    }
}

/// A context for `target`'s origin, trusting its CA, pooled or with reuse disabled.
pub(crate) fn guest_ctx(target: &Target, reuse: bool) -> HttpCtx {
    let mut builder = bench::builder_for(&target.origin, reuse);
    if let Some(ca) = &target.ca_pem {
        builder = builder.add_root_certificates_pem(ca.as_bytes()).unwrap();
    }
    builder.build().unwrap()
}

/// The `fetch` test guest, built once.
pub(crate) fn fetch_guest() -> PathBuf {
    guest_wasm("tests/guests", "fetch")
}

fn guest_requests(target: &Target, n: usize, reuse: bool) -> Duration {
    guest_requests_with(&fetch_guest(), guest_ctx(target, reuse), target, n)
}

/// `n` requests by one guest run in a store holding `ctx`.
pub(crate) fn guest_requests_with(
    fetch: &Path,
    ctx: HttpCtx,
    target: &Target,
    n: usize,
) -> Duration {
    let url = target.url();
    let repeat = n.to_string();
    let start = Instant::now();
    let out = run_guest(fetch, ctx, &["GET", &url, "--quiet", "--repeat", &repeat]);
    let elapsed = start.elapsed();
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    assert_eq!(
        out.line_value("requests:").map(str::trim),
        Some(repeat.as_str())
    );
    elapsed
}

fn tls_config(target: &Target) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = target.ca_pem.as_deref().expect("HTTPS target without a CA");
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

enum RawConn {
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl RawConn {
    fn open(target: &Target, tls: Option<&Arc<rustls::ClientConfig>>) -> RawConn {
        let sock = TcpStream::connect(target.authority()).unwrap();
        sock.set_nodelay(true).unwrap();
        match tls {
            None => RawConn::Tcp(sock),
            Some(config) => {
                let host = target.authority().rsplit_once(':').unwrap().0.to_string();
                let name = ServerName::try_from(host).unwrap();
                let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
                RawConn::Tls(Box::new(rustls::StreamOwned::new(conn, sock)))
            }
        }
    }

    fn write_all(&mut self, b: &[u8]) {
        match self {
            RawConn::Tcp(s) => s.write_all(b).unwrap(),
            RawConn::Tls(s) => {
                s.write_all(b).unwrap();
                s.flush().unwrap();
            }
        }
    }

    fn read(&mut self, b: &mut [u8]) -> usize {
        match self {
            RawConn::Tcp(s) => s.read(b).unwrap(),
            RawConn::Tls(s) => s.read(b).unwrap(),
        }
    }
}

/// Reads one Content-Length response into `buf` (reused across requests). The floor: no
/// validation beyond finding the head's end and the length.
fn raw_response(conn: &mut RawConn, buf: &mut [u8]) {
    let mut have = 0;
    let head_end = loop {
        let n = conn.read(&mut buf[have..]);
        assert!(n > 0, "server closed early");
        have += n;
        if let Some(i) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = &buf[..head_end];
    let len = content_length(head).expect("no Content-Length");
    let mut body = have - head_end;
    while body < len {
        let n = conn.read(buf);
        assert!(n > 0, "server closed early");
        body += n;
    }
}

fn content_length(head: &[u8]) -> Option<usize> {
    head.split(|&b| b == b'\n').find_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        if !line[..colon].eq_ignore_ascii_case(b"content-length") {
            return None;
        }
        std::str::from_utf8(&line[colon + 1..])
            .ok()?
            .trim()
            .parse()
            .ok()
    })
}

fn raw_requests(target: &Target, n: usize, reuse: bool) -> Duration {
    let tls = target.is_tls().then(|| tls_config(target));
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
        target.path,
        target.authority()
    );
    let mut buf = vec![0u8; 16 * 1024];
    let start = Instant::now();
    let mut conn = None;
    for _ in 0..n {
        let c = conn.get_or_insert_with(|| RawConn::open(target, tls.as_ref()));
        c.write_all(req.as_bytes());
        raw_response(c, &mut buf);
        if !reuse {
            conn = None;
        }
    }
    start.elapsed()
}

fn ureq_agent(target: &Target, reuse: bool) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder();
    if !reuse {
        config = config.max_idle_connections(0);
    }
    if let Some(ca) = &target.ca_pem {
        let cert = ureq::tls::Certificate::from_pem(ca.as_bytes()).unwrap();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
            .build();
        config = config.tls_config(tls);
    }
    config.build().new_agent()
}

fn ureq_requests(target: &Target, n: usize, reuse: bool) -> Duration {
    let agent = ureq_agent(target, reuse);
    let url = target.url();
    let start = Instant::now();
    for _ in 0..n {
        let mut resp = agent.get(&url).call().unwrap();
        let body = resp.body_mut().read_to_vec().unwrap();
        assert_eq!(body.len(), 100);
    }
    start.elapsed()
}

/// Whether `curl` runs here.
pub(crate) fn have_curl() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ca_file(target: &Target) -> Option<PathBuf> {
    let pem = target.ca_pem.as_ref()?;
    let path = std::env::temp_dir().join(format!("bench-ca-{}.pem", std::process::id()));
    std::fs::write(&path, pem).unwrap();
    Some(path)
}

fn curl_requests(target: &Target, n: usize, reuse: bool) -> Duration {
    // `?[1-n]` makes n URLs; both servers ignore the query. Bodies go to stdout, discarded.
    let sep = if target.path.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}[1-{n}]", target.url());
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-S", "--fail"]).arg(&url);
    if let Some(ca) = ca_file(target) {
        cmd.arg("--cacert").arg(ca);
    }
    if !reuse {
        cmd.args(["-H", "Connection: close"]);
    }
    cmd.stdout(Stdio::null());
    let start = Instant::now();
    let status = cmd.status().unwrap();
    let elapsed = start.elapsed();
    assert!(status.success(), "curl failed");
    elapsed
}

/// `curl -o /dev/null` of `url`: the seconds taken.
pub(crate) fn curl_stream(url: &str) -> Duration {
    let start = Instant::now();
    let status = Command::new("curl")
        .args(["-s", "-S", "--fail", "-o", "/dev/null", url])
        .status()
        .unwrap();
    assert!(status.success(), "curl failed");
    start.elapsed()
}
