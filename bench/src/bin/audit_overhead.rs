//! The cost of auditing and quotas on the request rate: the `fetch` guest doing sequential
//! 100-byte keep-alive GETs against the loopback server, with no observer, with every event
//! written as a JSON line to a file by `JsonLinesLog` (written and flushed within about a
//! millisecond, as the CLI's `--audit-log` does), and with that plus three quotas (lifetime and
//! windowed).
//!
//! `cargo run --release -p bench --bin audit_overhead [-- ROUNDS REQUESTS]` (default 9 rounds of
//! 3000 requests). The variants alternate within each round, so that drift of a noisy machine
//! hits them alike; the medians are printed as a Markdown table.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmark tool: a failure should stop it loudly"
)]

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bench::{builder_for, start_server};
use e2e::guests::guest_wasm;
use e2e::run::run_guest;
use wasi_experimental_http_host::{HttpCtx, JsonLinesLog, Quota, QuotaLimits};

/// The logs of finished rounds, dropped (so flushed) before the lines are counted.
static SINKS: Mutex<Vec<JsonLinesLog>> = Mutex::new(Vec::new());

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Plain,
    /// `HttpCtxBuilder::audit_log`, as the CLI's `--audit-log`.
    JsonLines,
    /// The same log as an `on_event` callback (`JsonLinesLog::observer`).
    JsonLinesObserver,
    JsonLinesAndQuotas,
}

fn ctx(url: &str, variant: Variant, log: &PathBuf) -> HttpCtx {
    let mut builder = builder_for(url, true);
    if variant != Variant::Plain {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        // The CLI's `--audit-log` writer: records handed to a writer thread, which formats,
        // writes and flushes them in batches.
        let sink = JsonLinesLog::new(file).unwrap();
        builder = if variant == Variant::JsonLinesObserver {
            builder.on_event(sink.observer())
        } else {
            builder.audit_log(&sink)
        };
        SINKS.lock().unwrap().push(sink);
    }
    if variant == Variant::JsonLinesAndQuotas {
        let big = u64::MAX / 4;
        builder = builder
            .quota(
                Quota::new(QuotaLimits {
                    requests: Some(big),
                    sent_bytes: Some(big),
                    received_bytes: Some(big),
                    window: None,
                })
                .unwrap(),
            )
            .quota(
                Quota::new(QuotaLimits {
                    requests: Some(1_000_000),
                    received_bytes: Some(1 << 40),
                    window: Some(Duration::from_secs(1)),
                    ..QuotaLimits::default()
                })
                .unwrap(),
            )
            .quota_per_context(QuotaLimits {
                received_bytes: Some(big),
                ..QuotaLimits::default()
            });
    }
    let mut ctx = builder.build().unwrap();
    ctx.set_label("tenant", "bench");
    ctx
}

fn rate(url: &str, n: usize, variant: Variant, log: &PathBuf) -> f64 {
    let fetch = guest_wasm("tests/guests", "fetch");
    let ctx = ctx(url, variant, log);
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).map_or(9, |a| a.parse().unwrap());
    let requests: usize = args.get(2).map_or(3000, |a| a.parse().unwrap());
    // `plain`, `jsonl`, `observer` or `quotas`: that variant alone, once, no table (for instruction
    // counts under callgrind: see BENCHMARKS.md).
    if let Some(only) = args.get(3) {
        let variant = match only.as_str() {
            "plain" => Variant::Plain,
            "jsonl" => Variant::JsonLines,
            "observer" => Variant::JsonLinesObserver,
            "quotas" => Variant::JsonLinesAndQuotas,
            other => panic!("unknown variant {other}"),
        };
        let url = start_server();
        let log = std::env::temp_dir().join(format!("audit-only-{}.jsonl", std::process::id()));
        rate(&url, requests, variant, &log);
        SINKS.lock().unwrap().clear();
        std::fs::remove_file(&log).ok();
        return;
    }
    let url = start_server();
    let log = std::env::temp_dir().join(format!("audit-overhead-{}.jsonl", std::process::id()));
    // Compile the guest and warm the pool before timing.
    rate(&url, 10, Variant::JsonLines, &log);
    let variants = [
        Variant::Plain,
        Variant::JsonLines,
        Variant::JsonLinesObserver,
        Variant::JsonLinesAndQuotas,
    ];
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..rounds {
        // Rotate the order each round.
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            results[i].push(rate(&url, requests, variants[i], &log));
        }
    }
    SINKS.lock().unwrap().clear();
    let lines = std::fs::read_to_string(&log).map_or(0, |s| s.lines().count());
    std::fs::remove_file(&log).ok();
    let base = median(results[0].clone());
    println!(
        "## Audit and quota overhead: {rounds} rounds of {requests} sequential keep-alive GETs (100-byte body)"
    );
    println!("| variant | requests/s (median) | vs. no observer |");
    println!("|---|---|---|");
    for (i, name) in [
        "no observer, no quota",
        "JSON Lines to a file (`audit_log(&JsonLinesLog)`, as --audit-log)",
        "the same log as a callback (`on_event(log.observer())`)",
        "JSON Lines + 3 quotas (lifetime, windowed, per context)",
    ]
    .iter()
    .enumerate()
    {
        let m = median(results[i].clone());
        println!("| {name} | {m:.0} | {:+.1} % |", (m / base - 1.0) * 100.0);
    }
    println!();
    println!("{lines} audit lines written");
}
