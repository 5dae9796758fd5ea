//! What the benchmark and the soak share: a minimal keep-alive HTTP/1.1 server on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "benchmark tool: a failure should stop it loudly"
)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Requests answered by [`start_server`]'s servers in this process.
pub static REQUESTS_SERVED: AtomicUsize = AtomicUsize::new(0);

use wasi_experimental_http_host::{HttpCtx, HttpCtxBuilder, PoolConfig};

/// A `kB` field of `/proc/self/status` (`VmRSS:`, `VmHWM:`), 0 where there is none.
pub fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A context admitting `url`'s origin, with the keep-alive pool or with reuse disabled.
pub fn ctx_for(url: &str, reuse: bool) -> HttpCtx {
    builder_for(url, reuse).build().unwrap()
}

/// The builder of [`ctx_for`], for benchmarks that add options.
pub fn builder_for(url: &str, reuse: bool) -> HttpCtxBuilder {
    let builder = HttpCtx::builder().allowed_hosts([url.to_string()]);
    if reuse {
        builder
    } else {
        builder.pool(PoolConfig {
            max_idle_total: 0,
            ..PoolConfig::default()
        })
    }
}

/// A minimal keep-alive HTTP/1.1 server: `GET /bytes/N` answers N zero bytes with
/// Content-Length. One thread per connection; runs until the process exits.
pub fn start_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || serve(conn));
        }
    });
    format!("http://{addr}")
}

fn serve(conn: TcpStream) {
    conn.set_nodelay(true).ok();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    let zeros = vec![0u8; 256 * 1024];
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        // The query is ignored, so a client may vary it (curl's URL globbing does).
        let target = line.split(' ').nth(1).unwrap_or("/");
        let path = target.split('?').next().unwrap_or("/").to_string();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
        }
        let n: u64 = path
            .strip_prefix("/bytes/")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        REQUESTS_SERVED.fetch_add(1, Ordering::Relaxed);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n");
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
        let mut left = n;
        while left > 0 {
            let k = left.min(zeros.len() as u64) as usize;
            if writer.write_all(&zeros[..k]).is_err() {
                return;
            }
            left -= k as u64;
        }
    }
}
