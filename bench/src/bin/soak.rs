//! Soak: many sequential requests from one guest instance, while the process's open file
//! descriptors and resident memory are sampled; both must stay flat. Exits non-zero on a
//! regression. Run by `scripts/soak` (full: 100 000 keep-alive requests and 10 000 with a new
//! connection each) and by `scripts/test` (`--short`: 5 000 and 1 000).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "soak tool: a failure should stop it loudly"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bench::{ctx_for, start_server};
use e2e::guests::guest_wasm;
use e2e::run::{load_module, run_module};

/// Open file descriptors may differ by this many between the warm start and the end (the
/// pool's idle connection, a sampler's own descriptor).
const FD_SLACK: usize = 4;
/// Resident memory may grow by this much between the warm sample and the late one: allocator
/// noise (observed: under 300 KiB). The samples are thousands of requests apart, so a leak of
/// a few hundred bytes per request exceeds it.
const RSS_SLACK_KIB: u64 = 4 * 1024;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Sample {
    fds: usize,
    rss_kib: u64,
}

fn sample() -> Sample {
    Sample {
        fds: open_fds(),
        rss_kib: rss_kib(),
    }
}

/// Runs `n` sequential GETs in one guest instance. Returns a sample taken once the run was warm
/// (after `warmup`) and the last sample taken while it still ran (every 50 ms, so the store,
/// its context and the pool are alive and anything they hold is counted), the duration, and the
/// size of the guest's captured stdout.
fn soak(url: &str, n: usize, reuse: bool, warmup: Duration) -> (Sample, Sample, Duration, u64) {
    let module = load_module(&guest_wasm("tests/guests", "fetch"));
    let ctx = ctx_for(url, reuse);
    let target = format!("{url}/bytes/100");
    let repeat = n.to_string();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        thread::spawn(move || {
            let started = Instant::now();
            while started.elapsed() < warmup {
                assert!(
                    !done.load(Ordering::SeqCst),
                    "the run ended before it was warm: raise the request count"
                );
                thread::sleep(Duration::from_millis(10));
            }
            let warm = sample();
            let mut late = sample();
            while !done.load(Ordering::SeqCst) {
                late = sample();
                thread::sleep(Duration::from_millis(50));
            }
            (warm, late)
        })
    };
    let started = Instant::now();
    let out = run_module(
        &module,
        "fetch",
        ctx,
        &[
            "GET",
            &target,
            "--repeat",
            &repeat,
            "--discard",
            "--no-hash",
        ],
    );
    let took = started.elapsed();
    done.store(true, Ordering::SeqCst);
    assert_eq!(out.exit_code, 0, "{out}");
    assert_eq!(
        out.line_values("status: ").len(),
        n,
        "every request answered"
    );
    let (warm, late) = sampler.join().unwrap();
    (warm, late, took, out.stdout.len() as u64)
}

fn main() {
    let short = std::env::args().any(|a| a == "--short");
    let (keep_alive, fresh) = if short {
        (5_000, 1_000)
    } else {
        (100_000, 10_000)
    };
    let url = start_server();
    let mut failed = false;
    for (name, n, reuse) in [
        ("keep-alive", keep_alive, true),
        ("new connection each", fresh, false),
    ] {
        // Early enough that even the shortest phase (1 000 new connections, about 0.5 s in a
        // debug build) is still running; late enough that one-time allocations are done.
        let warmup = Duration::from_millis(if short { 150 } else { 300 });
        let (warm, end, took, output) = soak(&url, n, reuse, warmup);
        let fds_ok = end.fds <= warm.fds + FD_SLACK;
        // The guest's stdout (two short lines per request) is captured in memory by the
        // harness, not by the host: it is counted against the allowance.
        let rss_ok = end.rss_kib <= warm.rss_kib + RSS_SLACK_KIB + output / 1024;
        println!(
            "soak {name}: {n} requests in {:.1} s ({:.0}/s); open fds {} (warm) -> {} (late); RSS {} KiB -> {} KiB (guest stdout held: {} KiB){}",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64(),
            warm.fds,
            end.fds,
            warm.rss_kib,
            end.rss_kib,
            output / 1024,
            if fds_ok && rss_ok {
                ""
            } else {
                "  <-- NOT FLAT"
            }
        );
        failed |= !(fds_ok && rss_ok);
    }
    if failed {
        eprintln!("soak: file descriptors or resident memory grew");
        std::process::exit(1);
    }
}
