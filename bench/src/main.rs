//! Benchmarks of the host beside its peers, in one run: `cargo run --release -p bench` (add
//! `-- --quick` for a shorter run, `-- --smoke` for the seconds-long check `scripts/test` runs).
//! Everything talks to servers on 127.0.0.1: the project's own minimal server (in this process)
//! and a private nginx (a child process).
//!
//! What is measured (medians of rounds that alternate the clients, so ratios hold on a noisy
//! machine):
//! 1. Sequential 100-byte GETs, keep-alive and a new connection per request, HTTP and HTTPS: the
//!    wasm guest through this host, a raw socket (the floor), `ureq`, `curl`.
//! 2. Body throughput: the guest streaming a large body into its memory with `body_read`, a raw
//!    read loop (the floor) and `curl -o /dev/null`; the whole process's peak RSS for a 1 MiB and
//!    a 1 GiB body, each in a fresh process.
//! 3. Scaling: N stores on N threads sharing one pool, total request rate.
//! 4. When built (`bench/peers/*/build`), the peer hosts in the same rounds: the original 0.10
//!    host and wasmtime's wasi:http host, each running the same workload in its own guest
//!    (`bench/peers/PROTOCOL.md`).
//!
//! `--one CLIENT SCHEME N` (CLIENT `guest`, `raw` or `ureq`; SCHEME `http` or `https`) does N
//! keep-alive GETs of nginx's 100-byte file and nothing else: run it under
//! `valgrind --tool=callgrind` at two N and subtract, for instructions per request.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmark tool: a failure should stop it loudly"
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use bench::start_server;
use clients::{Client, Peer, Target, curl_stream, fetch_guest, guest_ctx, guest_requests_with};
use e2e::nginx::Nginx;
use e2e::run::run_guest;
use wasi_experimental_http_host::HttpCtx;

mod clients;

fn peak_rss_kib() -> u64 {
    bench::proc_status_kib("VmHWM:")
}

fn guest_stream(url: &str, bytes: u64, buf: usize) -> (f64, u64) {
    let fetch = fetch_guest();
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
    let start = Instant::now();
    native_stream_body(url, bytes, buf);
    bytes as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn native_stream_body(url: &str, bytes: u64, buf: usize) {
    let addr = url.trim_start_matches("http://");
    let mut sock = TcpStream::connect(addr).unwrap();
    let req = format!("GET /bytes/{bytes} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
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
}

/// How much of everything to run.
struct Plan {
    rounds: usize,
    keepalive_requests: usize,
    new_conn_requests: usize,
    stream_sizes: Vec<u64>,
    rss_sizes: Vec<u64>,
    scaling_requests: usize,
    scaling_threads: Vec<usize>,
    /// Whether to include the peer hosts that are built.
    peers: bool,
}

impl Plan {
    fn from_args(args: &[String]) -> Plan {
        if args.iter().any(|a| a == "--smoke") {
            Plan {
                rounds: 1,
                keepalive_requests: 100,
                new_conn_requests: 20,
                stream_sizes: vec![8 << 20],
                rss_sizes: vec![],
                scaling_requests: 100,
                scaling_threads: vec![1, 2],
                peers: false,
            }
        } else if args.iter().any(|a| a == "--quick") {
            Plan {
                rounds: 3,
                keepalive_requests: 1000,
                new_conn_requests: 200,
                stream_sizes: vec![256 << 20],
                rss_sizes: vec![1 << 20, 256 << 20],
                scaling_requests: 1000,
                scaling_threads: vec![1, 2, 4],
                peers: true,
            }
        } else {
            Plan {
                rounds: 5,
                keepalive_requests: 3000,
                new_conn_requests: 500,
                stream_sizes: vec![256 << 20, 1 << 30],
                rss_sizes: vec![1 << 20, 1 << 30],
                scaling_requests: 3000,
                scaling_threads: vec![1, 2, 4],
                peers: true,
            }
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Each client in `clients` does `n` requests of `target` in each of `rounds` rounds, the order
/// rotating between rounds; prints one table of the medians, with ratios to the first client.
fn request_table(
    title: &str,
    target: &Target,
    clients: &[Client],
    n: usize,
    reuse: bool,
    rounds: usize,
) {
    let mut per_request: Vec<Vec<f64>> = vec![Vec::new(); clients.len()];
    for round in 0..rounds {
        for k in 0..clients.len() {
            let i = (k + round) % clients.len();
            if let Some(t) = clients[i].run(target, n, reuse) {
                per_request[i].push(t.as_secs_f64() * 1e6 / n as f64);
            }
        }
    }
    let medians: Vec<Option<f64>> = per_request
        .into_iter()
        .map(|v| (!v.is_empty()).then(|| median(v)))
        .collect();
    let floor = medians[0].expect("the floor always runs");
    println!(
        "### {title}: {n} requests × {rounds} rounds, `{}`",
        target.url()
    );
    println!("| client | µs/request (median) | requests/s | time ÷ floor |");
    println!("|---|---|---|---|");
    for (client, us) in clients.iter().zip(&medians) {
        match us {
            Some(us) => println!(
                "| {} | {us:.1} | {:.0} | {:.2} |",
                client.label(),
                1e6 / us,
                us / floor
            ),
            None => println!("| {} | n/a | n/a | n/a |", client.label()),
        }
    }
    for client in clients {
        if let Client::Peer(peer) = client
            && peer.max_requests() < n
        {
            println!(
                "\n{}: {} requests per round (time per request compared).",
                client.label(),
                peer.max_requests()
            );
        }
    }
    println!();
}

fn streaming_table(url: &str, sizes: &[u64], rounds: usize, curl: bool, peers: &[Peer]) {
    for &bytes in sizes {
        println!(
            "### Streaming a {} MiB Content-Length body from the project's server, {rounds} rounds",
            bytes >> 20
        );
        println!("| client | read buffer | MB/s (median) | ÷ floor | peak RSS growth (guest) |");
        println!("|---|---|---|---|---|");
        for buf in [16 * 1024, 64 * 1024] {
            let (mut floor, mut guest, mut rss, mut curls) = (vec![], vec![], 0, vec![]);
            let mut peer_runs: Vec<(Vec<f64>, u64, bool)> = vec![(vec![], 0, true); peers.len()];
            for round in 0..rounds {
                let mut runs: Vec<Box<dyn FnMut()>> = vec![
                    Box::new(|| floor.push(native_stream(url, bytes, buf))),
                    Box::new(|| {
                        let (mbps, grown) = guest_stream(url, bytes, buf);
                        guest.push(mbps);
                        rss = rss.max(grown);
                    }),
                ];
                for (peer, (mbps, peak, can)) in peers.iter().zip(peer_runs.iter_mut()) {
                    runs.push(Box::new(move || {
                        match peer.stream(&format!("{url}/bytes/{bytes}"), bytes, buf) {
                            Some((t, kib)) => {
                                mbps.push(bytes as f64 / t.as_secs_f64() / 1e6);
                                *peak = (*peak).max(kib);
                            }
                            None => *can = false,
                        }
                    }));
                }
                if curl && buf == 64 * 1024 {
                    runs.push(Box::new(|| {
                        let t = curl_stream(&format!("{url}/bytes/{bytes}"));
                        curls.push(bytes as f64 / t.as_secs_f64() / 1e6);
                    }));
                }
                let len = runs.len();
                for k in 0..len {
                    (runs[(k + round) % len])();
                }
            }
            let floor = median(floor);
            let guest = median(guest);
            let kib = buf / 1024;
            println!("| native raw socket (floor) | {kib} KiB | {floor:.0} | 1.00 | - |");
            println!(
                "| wasm guest via body_read | {kib} KiB | {guest:.0} | {:.2} | {rss} KiB |",
                guest / floor
            );
            for (peer, (mbps, peak, can)) in peers.iter().zip(peer_runs) {
                let label = Client::Peer(*peer).label();
                if can && !mbps.is_empty() {
                    let m = median(mbps);
                    println!(
                        "| {label} | {kib} KiB | {m:.0} | {:.2} | {peak} KiB (whole process, peak) |",
                        m / floor
                    );
                } else {
                    println!("| {label} | {kib} KiB | n/a | n/a | - |");
                }
            }
            if !curls.is_empty() {
                let c = median(curls);
                println!(
                    "| curl -o /dev/null | (curl's) | {c:.0} | {:.2} | - |",
                    c / floor
                );
            }
        }
        println!();
    }
}

/// The whole process's peak RSS after the guest streams `bytes`, in a fresh process.
fn rss_table(sizes: &[u64], url: &str, peers: &[Peer]) {
    println!(
        "### Whole-process peak RSS (VmHWM) after a guest streams one body, 64 KiB buffer, a fresh process each"
    );
    let mut header = "| body | this host |".to_string();
    for peer in peers {
        header.push_str(&format!(" {} |", Client::Peer(*peer).label()));
    }
    println!("{header}");
    println!("|---|---|{}", "---|".repeat(peers.len()));
    for &bytes in sizes {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args(["--rss-probe", &bytes.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let kib = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let mut row = format!("| {} MiB | {kib} KiB |", bytes >> 20);
        for peer in peers {
            match peer.stream(&format!("{url}/bytes/{bytes}"), bytes, 64 * 1024) {
                Some((_, kib)) => row.push_str(&format!(" {kib} KiB |")),
                None => row.push_str(" n/a |"),
            }
        }
        println!("{row}");
    }
    println!();
}

fn scaling_table(target: &Target, threads: &[usize], n: usize, rounds: usize) {
    let fetch = fetch_guest();
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); threads.len()];
    for round in 0..rounds {
        for k in 0..threads.len() {
            let i = (k + round) % threads.len();
            let base = guest_ctx(target, true);
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads[i] {
                    let ctx = base.new_sibling();
                    let fetch = &fetch;
                    s.spawn(move || guest_requests_with(fetch, ctx, target, n));
                }
            });
            let secs = start.elapsed().as_secs_f64();
            rates[i].push((threads[i] * n) as f64 / secs);
        }
    }
    println!(
        "### Scaling: N stores on N threads sharing one pool, {n} keep-alive requests each, {rounds} rounds, `{}`",
        target.url()
    );
    println!("| N | total requests/s (median) | ÷ N = 1 |");
    println!("|---|---|---|");
    let medians: Vec<f64> = rates.into_iter().map(median).collect();
    for (t, r) in threads.iter().zip(&medians) {
        println!("| {t} | {r:.0} | {:.2} |", r / medians[0]);
    }
    println!();
}

/// `--one CLIENT SCHEME N`: N keep-alive GETs of nginx's small file, for callgrind.
fn one(args: &[String]) {
    let client = match args[0].as_str() {
        "guest" => Client::Guest,
        "raw" => Client::Raw,
        "ureq" => Client::Ureq,
        other => panic!("--one: unknown client {other}"),
    };
    let n: usize = args[2].parse().unwrap();
    let nginx = Nginx::start();
    let target = match args[1].as_str() {
        "http" => Target {
            origin: nginx.http_origin(),
            path: Nginx::SMALL_PATH.into(),
            ca_pem: None,
        },
        _ => Target {
            origin: nginx.https_origin(),
            path: Nginx::SMALL_PATH.into(),
            ca_pem: Some(nginx.ca_pem().to_string()),
        },
    };
    let t = client.run(&target, n, true).expect("runs");
    eprintln!("{n} requests in {t:?}");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--one") {
        return one(&args[i + 1..]);
    }
    if let Some(i) = args.iter().position(|a| a == "--rss-probe") {
        let bytes: u64 = args[i + 1].parse().unwrap();
        let url = start_server();
        guest_stream(&url, bytes, 64 * 1024);
        println!("{}", peak_rss_kib());
        return;
    }
    let plan = Plan::from_args(&args);
    let curl = clients::have_curl();
    if !curl {
        eprintln!("bench: curl not found; its rows are left out");
    }
    let own = start_server();
    let nginx = Nginx::start();
    let own_small = Target {
        origin: own.clone(),
        path: "/bytes/100".into(),
        ca_pem: None,
    };
    let nginx_http = Target {
        origin: nginx.http_origin(),
        path: Nginx::SMALL_PATH.into(),
        ca_pem: None,
    };
    let nginx_https = Target {
        origin: nginx.https_origin(),
        ..nginx_http.clone()
    };
    let nginx_https = Target {
        ca_pem: Some(nginx.ca_pem().to_string()),
        ..nginx_https
    };
    let mut clients = vec![Client::Raw, Client::Guest, Client::Ureq];
    if curl {
        clients.push(Client::Curl);
    }
    // The peer hosts (bench/peers) run when built; the smoke run leaves them out.
    let mut peers = Vec::new();
    for peer in Peer::ALL {
        if plan.peers && peer.available() {
            peers.push(peer);
            clients.push(Client::Peer(peer));
        } else if plan.peers {
            eprintln!(
                "bench: {} not built ({}); its rows are left out",
                Client::Peer(peer).label(),
                peer.build_command()
            );
        }
    }
    // Build and compile the guest, and warm every client, before timing anything.
    for target in [&own_small, &nginx_http, &nginx_https] {
        for c in &clients {
            c.run(target, 2, true);
        }
    }

    for (heading, n, reuse) in [
        (
            "## Keep-alive: sequential 100-byte GETs on one connection",
            plan.keepalive_requests,
            true,
        ),
        (
            "## New connection per request (reuse disabled)",
            plan.new_conn_requests,
            false,
        ),
    ] {
        println!("{heading}");
        println!();
        for (title, target) in [
            ("HTTP, project server", &own_small),
            ("HTTP, nginx", &nginx_http),
            ("HTTPS, nginx", &nginx_https),
        ] {
            request_table(title, target, &clients, n, reuse, plan.rounds);
        }
    }
    println!("## Streaming");
    println!();
    streaming_table(&own, &plan.stream_sizes, plan.rounds, curl, &peers);
    if !plan.rss_sizes.is_empty() {
        rss_table(&plan.rss_sizes, &own, &peers);
    }
    println!("## Scaling");
    println!();
    scaling_table(
        &own_small,
        &plan.scaling_threads,
        plan.scaling_requests,
        plan.rounds,
    );
    scaling_table(
        &nginx_http,
        &plan.scaling_threads,
        plan.scaling_requests,
        plan.rounds,
    );
}
