//! A real nginx on loopback, for the production tests.
//!
//! Each [`Nginx`] is a private nginx process with its own prefix directory (config, pid file,
//! logs, temp paths, docroot, TLS key and certificate), listening on fresh loopback ports for
//! HTTP and HTTPS. Tests start one per test so the access log only holds their own requests.
//! Dropping the value kills the process and removes the directory.
//!
//! nginx is a required test dependency: when it is missing, [`Nginx::start`] panics so the
//! suite fails rather than silently skipping the interop tests (`.ci/run` installs it).

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::server::wait_for_len;

/// Size of the sparse file served at [`Nginx::SPARSE_PATH`]: 1 GiB of zeros.
pub const SPARSE_LEN: u64 = 1 << 30;

/// How long to wait for nginx to accept connections before failing the test.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The text nginx's `sub_filter` replaces in [`Nginx::CHUNKED_PATH`].
const PLACEHOLDER: &str = "@@SUBST@@";
/// What nginx puts in place of [`PLACEHOLDER`].
const REPLACEMENT: &str = "nginx-substituted-this";

/// A running nginx serving a fixed docroot over HTTP and HTTPS on 127.0.0.1.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    http_port: u16,
    https_port: u16,
    ca_pem: String,
}

/// One line of the access log: which connection served which request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogEntry {
    /// nginx's `$connection`: serial number of the TCP connection.
    pub connection: u64,
    /// nginx's `$connection_requests`: 1 for the first request on a connection, 2 for the next...
    pub connection_requests: u64,
    /// `$scheme`: `http` or `https`.
    pub scheme: String,
    /// `$request_method`.
    pub method: String,
    /// `$request_uri`: path and query as the client sent them.
    pub uri: String,
    /// `$status`.
    pub status: u16,
    /// `$body_bytes_sent`.
    pub body_bytes_sent: u64,
}

impl Nginx {
    /// A small static file, served with `Content-Length` and an `ETag`.
    pub const STATIC_PATH: &'static str = "/static.txt";
    /// 100 bytes served with `Content-Length`: the benchmark's small response.
    pub const SMALL_PATH: &'static str = "/100.bin";
    /// [`SPARSE_LEN`] zero bytes, served with `Content-Length`.
    pub const SPARSE_PATH: &'static str = "/sparse-1g.bin";
    /// A text file passed through `sub_filter`: nginx drops `Content-Length` and answers an
    /// HTTP/1.1 client with `Transfer-Encoding: chunked`, in several chunks.
    pub const CHUNKED_PATH: &'static str = "/sub/chunked.txt";
    /// The same text as [`Nginx::CHUNKED_PATH`] gzip-compressed on the fly (chunked) when the
    /// client sends `Accept-Encoding: gzip`.
    pub const GZIP_PATH: &'static str = "/gzip/chunked.txt";
    /// Answers `302 Found` with `Location` set to the origin given to
    /// [`Nginx::start_with_redirect`].
    pub const REDIRECT_PATH: &'static str = "/redirect";

    /// Starts nginx; the `/redirect` location points at an origin nothing listens on.
    ///
    /// # Panics
    /// If nginx is not installed, or does not come up within 10 seconds.
    pub fn start() -> Nginx {
        Nginx::start_with_redirect("http://redirect-target.invalid/landing")
    }

    /// Starts nginx with `/redirect` answering `302` to `location`.
    ///
    /// # Panics
    /// If nginx is not installed, or does not come up within 10 seconds.
    pub fn start_with_redirect(location: &str) -> Nginx {
        let binary = find_nginx().unwrap_or_else(|| {
            panic!("nginx not installed: run .ci/run or apt-get install nginx-light")
        });
        // Free ports are picked by binding port 0 and releasing it; another process can take
        // the port in between, so a start that fails on a bind error is retried on new ports.
        let mut last_error = String::new();
        for _attempt in 0..5 {
            match try_start(&binary, location) {
                Ok(nginx) => return nginx,
                Err(e) => last_error = e,
            }
        }
        panic!("nginx did not start: {last_error}");
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn http_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// `https://127.0.0.1:PORT`, no trailing slash. The certificate names `localhost` and the
    /// IP address 127.0.0.1 and is issued by [`Nginx::ca_pem`].
    pub fn https_origin(&self) -> String {
        format!("https://127.0.0.1:{}", self.https_port)
    }

    /// `https://localhost:PORT`: the same server as [`Nginx::https_origin`], by name.
    pub fn https_localhost_origin(&self) -> String {
        format!("https://localhost:{}", self.https_port)
    }

    /// The HTTP port.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The HTTPS port.
    pub fn https_port(&self) -> u16 {
        self.https_port
    }

    /// PEM of the test CA that issued nginx's certificate (generated at start).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The exact bytes of the file at `path` (a docroot path such as [`Nginx::STATIC_PATH`]).
    pub fn file_bytes(&self, path: &str) -> Vec<u8> {
        fs::read(self.docroot().join(path.trim_start_matches('/'))).unwrap()
    }

    /// The body nginx sends for [`Nginx::CHUNKED_PATH`]: the file with every placeholder
    /// replaced.
    pub fn chunked_expected(&self) -> Vec<u8> {
        String::from_utf8(self.file_bytes(Nginx::CHUNKED_PATH))
            .unwrap()
            .replace(PLACEHOLDER, REPLACEMENT)
            .into_bytes()
    }

    /// The access log as it is now.
    pub fn access_log(&self) -> Vec<AccessLogEntry> {
        let Ok(file) = File::open(self.dir.join("logs/access.log")) else {
            return Vec::new();
        };
        BufReader::new(file)
            .lines()
            .map(|l| parse_log_line(&l.unwrap()))
            .collect()
    }

    /// Waits (up to 5 s) until the access log holds at least `n` entries and returns them.
    ///
    /// nginx writes the log line when it finalizes the request, which can be just after the
    /// client has read the whole response, so a test reading the log must wait for it.
    pub fn wait_access_log(&self, n: usize) -> Vec<AccessLogEntry> {
        wait_for_len(n, Duration::from_secs(5), Duration::from_millis(20), || {
            self.access_log()
        })
    }

    /// nginx's error log, for failure messages.
    pub fn error_log(&self) -> String {
        fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }

    fn docroot(&self) -> PathBuf {
        self.dir.join("www")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("E2E_KEEP_NGINX_DIR").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn find_nginx() -> Option<PathBuf> {
    let fixed = Path::new("/usr/sbin/nginx");
    if fixed.is_file() {
        return Some(fixed.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

/// A fresh, private directory under the system temp dir.
fn fresh_dir() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "e2e-nginx-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes everything nginx needs into a fresh prefix and starts it. `Err` means "try again
/// with other ports" and carries the reason.
fn try_start(binary: &Path, redirect_location: &str) -> Result<Nginx, String> {
    let dir = fresh_dir();
    let (http_port, https_port) = loop {
        let (a, b) = (free_port(), free_port());
        if a != b {
            break (a, b);
        }
    };
    for sub in ["logs", "tmp", "www/sub", "www/gzip"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let ca_pem = write_tls_files(&dir);
    write_docroot(&dir.join("www"));
    fs::write(
        dir.join("nginx.conf"),
        config(&dir, http_port, https_port, redirect_location),
    )
    .unwrap();

    let child = Command::new(binary)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("logs/error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", binary.display()))?;
    let mut nginx = Nginx {
        child,
        dir,
        http_port,
        https_port,
        ca_pem,
    };

    let deadline = Instant::now() + START_TIMEOUT;
    let mut ready = [false, false];
    while !ready.iter().all(|r| *r) {
        if let Ok(Some(status)) = nginx.child.try_wait() {
            let log = nginx.error_log();
            if log.contains("Address already in use") {
                // Drop cleans the directory; the caller retries with new ports.
                return Err(format!("port taken: {log}"));
            }
            panic!("nginx exited at start ({status}); error log:\n{log}");
        }
        if Instant::now() > deadline {
            panic!(
                "nginx did not accept connections within {START_TIMEOUT:?}; error log:\n{}",
                nginx.error_log()
            );
        }
        for (port, ok) in [http_port, https_port].into_iter().zip(ready.iter_mut()) {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            *ok = *ok || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(nginx)
}

/// Generates a CA and a server certificate for `localhost` / 127.0.0.1 signed by it; writes
/// the server chain and key; returns the CA's PEM.
fn write_tls_files(dir: &Path) -> String {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "e2e nginx test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    fs::write(dir.join("server.crt"), leaf_cert.pem()).unwrap();
    fs::write(dir.join("server.key"), leaf_key.serialize_pem()).unwrap();
    ca_cert.pem()
}

fn write_docroot(www: &Path) {
    // Not a repeating short pattern, so an offset bug in body reading changes the hash.
    let mut static_body = String::new();
    for i in 0..700u32 {
        writeln!(
            static_body,
            "static line {i:04} {:08x}",
            i.wrapping_mul(2_654_435_761)
        )
        .unwrap();
    }
    fs::write(www.join("static.txt"), static_body).unwrap();
    fs::write(www.join("100.bin"), [b'x'; 100]).unwrap();

    // Large enough that nginx emits many chunks (its output buffers are 32 KiB).
    let mut chunked = String::new();
    for i in 0..8000u32 {
        writeln!(chunked, "line {i:05} {PLACEHOLDER} end").unwrap();
    }
    fs::write(www.join("sub/chunked.txt"), &chunked).unwrap();
    fs::write(www.join("gzip/chunked.txt"), &chunked).unwrap();

    // Sparse: set_len allocates no blocks, so 1 GiB costs nothing on disk.
    File::create(www.join("sparse-1g.bin"))
        .unwrap()
        .set_len(SPARSE_LEN)
        .unwrap();
}

fn config(dir: &Path, http_port: u16, https_port: u16, redirect_location: &str) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format conn '$connection $connection_requests $scheme $request_method $request_uri $status $body_bytes_sent';
    access_log {d}/logs/access.log conn;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    types {{ text/plain txt; application/octet-stream bin; }}
    default_type application/octet-stream;
    sendfile on;
    etag on;
    # Keep-alive must outlive any test, so reuse is never defeated by nginx closing first.
    keepalive_timeout 300s;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{http_port};
        listen 127.0.0.1:{https_port} ssl;
        ssl_certificate {d}/server.crt;
        ssl_certificate_key {d}/server.key;
        root {d}/www;
        location /sub/ {{
            sub_filter '{PLACEHOLDER}' '{REPLACEMENT}';
            sub_filter_once off;
            sub_filter_types text/plain;
        }}
        location /gzip/ {{
            gzip on;
            gzip_min_length 0;
            gzip_types text/plain;
        }}
        location = /redirect {{
            return 302 {redirect_location};
        }}
    }}
}}
"#
    )
}

fn parse_log_line(line: &str) -> AccessLogEntry {
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f.len(), 7, "unexpected access log line {line:?}");
    AccessLogEntry {
        connection: f[0].parse().unwrap(),
        connection_requests: f[1].parse().unwrap(),
        scheme: f[2].to_string(),
        method: f[3].to_string(),
        uri: f[4].to_string(),
        status: f[5].parse().unwrap(),
        body_bytes_sent: f[6].parse().unwrap(),
    }
}
