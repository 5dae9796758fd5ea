//! Benchmarks of the host, run with `cargo run --release -p bench` (add `-- --quick` for a short
//! run). Everything talks to a server in this process on 127.0.0.1.
//!
//! What is measured, each against the relevant floor:
//! 1. Request rate: a wasm guest doing sequential small GETs, with the keep-alive pool and with
//!    reuse disabled; and a native Rust loop over one raw keep-alive socket, the floor.
//! 2. Body throughput: a wasm guest streaming a large body through `body_read` into its own
//!    memory; and a native read loop on a raw socket, the floor. The host's peak RSS growth during
//!    the guest's run shows that the body is never buffered.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmark tool: a failure should stop it loudly"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use bench::{ctx_for, start_server};

use e2e::guests::guest_wasm;
use e2e::run::run_guest;
use wasi_experimental_http_wasmtime::HttpCtx;

fn peak_rss_kib() -> u64 {
    bench::proc_status_kib("VmHWM:")
}

fn guest_requests(url: &str, n: usize, reuse: bool) -> f64 {
    let fetch = guest_wasm("tests/guests", "fetch");
    let ctx = ctx_for(url, reuse);
    let target = format!("{url}/bytes/100");
    let repeat = n.to_string();
    let start = Instant::now();
    let out = run_guest(
        &fetch,
        ctx,
        &["GET", &target, "--discard", "--repeat", &repeat],
    );
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    n as f64 / secs
}

fn native_requests(url: &str, n: usize) -> f64 {
    let addr = url.trim_start_matches("http://");
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_nodelay(true).unwrap();
    let req = format!("GET /bytes/100 HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut reader = BufReader::new(sock.try_clone().unwrap());
    let start = Instant::now();
    for _ in 0..n {
        sock.write_all(req.as_bytes()).unwrap();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                len = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn guest_stream(url: &str, bytes: u64, buf: usize) -> (f64, u64) {
    let fetch = guest_wasm("tests/guests", "fetch");
    let ctx = HttpCtx::builder()
        .allowed_hosts([url.to_string()])
        .build()
        .unwrap();
    let target = format!("{url}/bytes/{bytes}");
    let buf = buf.to_string();
    let rss_before = peak_rss_kib();
    let start = Instant::now();
    let out = run_guest(
        &fetch,
        ctx,
        &["GET", &target, "--discard", "--no-hash", "--buf", &buf],
    );
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    assert_eq!(
        out.line_value("body-bytes:").map(str::trim),
        Some(bytes.to_string().as_str())
    );
    (
        bytes as f64 / secs / 1e6,
        peak_rss_kib().saturating_sub(rss_before),
    )
}

fn native_stream(url: &str, bytes: u64, buf: usize) -> f64 {
    let addr = url.trim_start_matches("http://");
    let mut sock = TcpStream::connect(addr).unwrap();
    let req = format!("GET /bytes/{bytes} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let start = Instant::now();
    sock.write_all(req.as_bytes()).unwrap();
    let mut chunk = vec![0u8; buf];
    let mut total = 0u64;
    let mut head_done = false;
    let mut head = Vec::new();
    while total < bytes {
        let n = sock.read(&mut chunk).unwrap();
        assert!(n > 0, "server closed early");
        if head_done {
            total += n as u64;
            continue;
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            head_done = true;
            total += (head.len() - i - 4) as u64;
        }
    }
    bytes as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (requests, body) = if quick {
        (500, 256 << 20)
    } else {
        (5000, 1u64 << 30)
    };
    let url = start_server();
    // Build and compile the guest before timing anything.
    guest_requests(&url, 1, true);

    println!("## Sequential small GETs (100-byte body), {requests} requests");
    println!("| client | requests/s |");
    println!("|---|---|");
    println!(
        "| native Rust, one raw keep-alive socket (floor) | {:.0} |",
        native_requests(&url, requests)
    );
    println!(
        "| wasm guest, pooled connections (default) | {:.0} |",
        guest_requests(&url, requests, true)
    );
    println!(
        "| wasm guest, reuse disabled (a connection per request) | {:.0} |",
        guest_requests(&url, requests, false)
    );
    println!();
    println!("## Streaming a {} MiB body", body >> 20);
    println!("| client | read buffer | MB/s | host peak RSS growth |");
    println!("|---|---|---|---|");
    for buf in [16 * 1024, 64 * 1024] {
        println!(
            "| native Rust, raw socket (floor) | {} KiB | {:.0} | - |",
            buf / 1024,
            native_stream(&url, body, buf)
        );
        let (mbps, rss) = guest_stream(&url, body, buf);
        println!(
            "| wasm guest via body_read | {} KiB | {mbps:.0} | {} KiB |",
            buf / 1024,
            rss
        );
    }
}
