//! CLI start-up: wall time of `wasmtime-http` running the `fetch` guest for one GET against the
//! loopback server (process start to exit, so start-up up to the first request plus one
//! request), compiling the module every time (`--no-cache`) and from wasmtime's compilation
//! cache (warmed once; a private cache directory).
//!
//! `cargo build --release -p wasi-experimental-http-cli && cargo run --release -p bench --bin startup
//! [-- ROUNDS]` (default 15). Variants alternate; medians are printed as a Markdown table.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmark tool: a failure should stop it loudly"
)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use bench::start_server;
use e2e::guests::{guest_wasm, repo_root};

fn cli() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo_root().join("target"), PathBuf::from);
    let cli = target.join("release/wasmtime-http");
    assert!(
        cli.exists(),
        "{} missing: cargo build --release -p wasi-experimental-http-cli",
        cli.display()
    );
    cli
}

fn run(cli: &PathBuf, extra: &[&str], origin: &str, wasm: &str, url: &str) -> f64 {
    let start = Instant::now();
    let out = Command::new(cli)
        .args(extra)
        .args(["-a", origin, wasm, "GET", url, "--discard"])
        .output()
        .unwrap();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ms
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args().nth(1).map_or(15, |a| a.parse().unwrap());
    let cli = cli();
    let origin = start_server();
    let url = format!("{origin}/bytes/100");
    let wasm = guest_wasm("tests/guests", "fetch");
    let wasm = wasm.to_str().unwrap();
    let size = std::fs::metadata(wasm).unwrap().len();
    let dir = std::env::temp_dir().join(format!("startup-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[cache]\ndirectory = {:?}\n",
            dir.join("c").to_str().unwrap()
        ),
    )
    .unwrap();
    let cached = ["--cache-config", config.to_str().unwrap()];
    run(&cli, &cached, &origin, wasm, &url); // warm the cache
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        cold.push(run(&cli, &["--no-cache"], &origin, wasm, &url));
        warm.push(run(&cli, &cached, &origin, wasm, &url));
    }
    std::fs::remove_dir_all(&dir).ok();
    println!("## CLI start-up: `fetch` guest ({size} bytes), one GET, {rounds} runs each");
    println!("| variant | process wall time (median) |");
    println!("|---|---|");
    println!(
        "| `--no-cache` (compile every run) | {:.1} ms |",
        median(cold)
    );
    println!(
        "| compilation cache (default), warm | {:.1} ms |",
        median(warm)
    );
}
