//! A real forward proxy on loopback, for the egress proxy tests: tinyproxy from Debian.
//!
//! Each [`Tinyproxy`] is a private tinyproxy process with its own directory (config, pid file,
//! log), listening on a fresh loopback port, optionally demanding Basic credentials. Its log
//! (level `Connect`) has one `Request` line per request it received, which is how a test
//! proves what the proxy heard of, and what it never heard of. Dropping the value kills the
//! process and removes the directory.
//!
//! tinyproxy is a required test dependency: when it is missing, [`Tinyproxy::start`] panics so
//! the suite fails rather than silently skipping (`.ci/run` installs it). Failure modes a real
//! proxy does not produce on demand (a refused `CONNECT`, garbage, a stall) are played by
//! [`crate::server::TestServer::scripted`] instead.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::server::wait_for_len;

/// How long to wait for tinyproxy to accept connections before failing the test.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running tinyproxy on 127.0.0.1.
#[derive(Debug)]
pub struct Tinyproxy {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Tinyproxy {
    /// Starts tinyproxy accepting anyone on loopback.
    ///
    /// # Panics
    /// If tinyproxy is not installed, or does not come up within 10 seconds.
    pub fn start() -> Tinyproxy {
        Tinyproxy::start_with_auth(None)
    }

    /// Starts tinyproxy; with `Some((user, password))` it answers 407 to any request without
    /// those Basic credentials.
    ///
    /// # Panics
    /// If tinyproxy is not installed, or does not come up within 10 seconds.
    pub fn start_with_auth(auth: Option<(&str, &str)>) -> Tinyproxy {
        let binary = find_tinyproxy().unwrap_or_else(|| {
            panic!("tinyproxy not installed: run .ci/run or apt-get install tinyproxy")
        });
        // A free port is picked by binding port 0 and releasing it; another process can take it
        // in between, so a start that fails to listen is retried on a new port.
        let mut last_error = String::new();
        for _attempt in 0..5 {
            match try_start(&binary, auth) {
                Ok(proxy) => return proxy,
                Err(e) => last_error = e,
            }
        }
        panic!("tinyproxy did not start: {last_error}");
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, for `HttpCtxBuilder::proxy`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT`.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// The whole log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("tinyproxy.log")).unwrap_or_default()
    }

    /// The request line of every request the proxy received, in order:
    /// `CONNECT 127.0.0.1:443 HTTP/1.1`, `GET http://127.0.0.1:80/x HTTP/1.1`.
    pub fn requests(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| l.split_once("): ").filter(|_| l.contains(" Request (")))
            .map(|(_, request)| request.to_owned())
            .collect()
    }

    /// Waits (up to 5 s) until the proxy logged at least `n` requests and returns them all.
    pub fn wait_requests(&self, n: usize) -> Vec<String> {
        wait_for_len(n, Duration::from_secs(5), Duration::from_millis(20), || {
            self.requests()
        })
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("E2E_KEEP_PROXY_DIR").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn find_tinyproxy() -> Option<PathBuf> {
    for fixed in ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"] {
        if Path::new(fixed).is_file() {
            return Some(PathBuf::from(fixed));
        }
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("tinyproxy"))
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
        "e2e-tinyproxy-{}-{}-{nanos}",
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

/// Writes the configuration into a fresh directory and starts tinyproxy in the foreground.
/// `Err` means "try again with another port" and carries the reason.
fn try_start(binary: &Path, auth: Option<(&str, &str)>) -> Result<Tinyproxy, String> {
    let dir = fresh_dir();
    let port = free_port();
    fs::write(dir.join("tinyproxy.conf"), config(&dir, port, auth)).unwrap();
    let child = Command::new(binary)
        .arg("-d")
        .arg("-c")
        .arg(dir.join("tinyproxy.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", binary.display()))?;
    let mut proxy = Tinyproxy { child, dir, port };
    let deadline = Instant::now() + START_TIMEOUT;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if let Ok(Some(status)) = proxy.child.try_wait() {
            // Drop cleans the directory; the caller retries with a new port.
            return Err(format!(
                "tinyproxy exited at start ({status}):\n{}",
                proxy.log()
            ));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(proxy);
        }
        if Instant::now() > deadline {
            panic!(
                "tinyproxy did not accept connections within {START_TIMEOUT:?}; log:\n{}",
                proxy.log()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn config(dir: &Path, port: u16, auth: Option<(&str, &str)>) -> String {
    let d = dir.display();
    // No `ConnectPort`: CONNECT to any port (the test servers listen on random ones). `Connect`
    // is the log level that records every request line and nothing per byte.
    let mut conf = format!(
        "Port {port}
Listen 127.0.0.1
Timeout 60
LogFile \"{d}/tinyproxy.log\"
LogLevel Connect
PidFile \"{d}/tinyproxy.pid\"
MaxClients 64
DisableViaHeader Yes
Allow 127.0.0.1
"
    );
    if let Some((user, password)) = auth {
        conf.push_str(&format!("BasicAuth {user} {password}\n"));
    }
    conf
}

/// A minimal in-process `CONNECT` relay that records every byte the client sent through it:
/// what a proxy on the path of an `https` request gets to see. It serves one tunnel at a time
/// (enough for a test), to any loopback target, and stops when dropped.
pub struct RecordingRelay {
    addr: SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl RecordingRelay {
    /// Starts the relay on a fresh loopback port.
    pub fn start() -> RecordingRelay {
        use std::io::{Read, Write};
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Mutex};

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok((mut client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                client
                    .set_read_timeout(Some(Duration::from_millis(50)))
                    .unwrap();
                // The CONNECT head, byte by byte so nothing after it is consumed here.
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && !stop2.load(Ordering::SeqCst) {
                    match client.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        Ok(_) => break,
                        Err(_) => continue,
                    }
                }
                seen2.lock().unwrap().extend_from_slice(&head);
                let text = String::from_utf8_lossy(&head).into_owned();
                let target = text.split(' ').nth(1).unwrap_or_default().to_owned();
                let Ok(upstream) = TcpStream::connect(&target) else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                    continue;
                };
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                upstream
                    .set_read_timeout(Some(Duration::from_millis(10)))
                    .unwrap();
                client
                    .set_read_timeout(Some(Duration::from_millis(10)))
                    .unwrap();
                let mut buf = [0u8; 16 * 1024];
                // Copy both ways until either side closes or the relay stops.
                'tunnel: while !stop2.load(Ordering::SeqCst) {
                    for (mut from, mut to, record) in
                        [(&client, &upstream, true), (&upstream, &client, false)]
                    {
                        match from.read(&mut buf) {
                            Ok(0) => break 'tunnel,
                            Ok(n) => {
                                if record {
                                    seen2.lock().unwrap().extend_from_slice(&buf[..n]);
                                }
                                if to.write_all(&buf[..n]).is_err() {
                                    break 'tunnel;
                                }
                            }
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                ) => {}
                            Err(_) => break 'tunnel,
                        }
                    }
                }
            }
        });
        RecordingRelay { addr, seen, stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every byte clients sent, `CONNECT` heads included, in order.
    pub fn seen(&self) -> Vec<u8> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for RecordingRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
