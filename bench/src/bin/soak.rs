//! Soak: many sequential requests from one guest instance, while the process's open file
//! descriptors and resident memory are sampled; both must stay flat. Exits non-zero on a
//! regression. Run by `scripts/soak` (full: 100 000 keep-alive requests and 10 000 with a new
//! connection each) and by `scripts/test` (`--short`: 5 000 and 2 000).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "soak tool: a failure should stop it loudly"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bench::{REQUESTS_SERVED, ctx_for, start_server};
use e2e::guests::guest_wasm;
use e2e::run::{load_module, run_module_quiet};

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
    bench::proc_status_kib("VmRSS:")
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
/// its context and the pool are alive and anything they hold is counted), and the duration.
fn soak(url: &str, n: usize, reuse: bool, warmup: Duration) -> (Sample, Sample, Duration) {
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
    let served = REQUESTS_SERVED.load(Ordering::SeqCst);
    let started = Instant::now();
    // The guest's stdout is discarded, so nothing but the host and the guest can grow with the
    // number of requests.
    let code = run_module_quiet(
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
    assert_eq!(code, 0, "the guest failed");
    assert_eq!(
        REQUESTS_SERVED.load(Ordering::SeqCst) - served,
        n,
        "every request answered"
    );
    let (warm, late) = sampler.join().unwrap();
    (warm, late, took)
}

fn main() {
    let short = std::env::args().any(|a| a == "--short");
    let (keep_alive, fresh) = if short {
        (5_000, 2_000)
    } else {
        (100_000, 10_000)
    };
    let url = start_server();
    let mut failed = false;
    for (name, n, reuse) in [
        ("keep-alive", keep_alive, true),
        ("new connection each", fresh, false),
    ] {
        // Early enough that even the shortest phase (2 000 new connections, about 0.4 s in a
        // debug build) is still running; late enough that one-time allocations are done.
        let warmup = Duration::from_millis(if short { 50 } else { 300 });
        let (warm, end, took) = soak(&url, n, reuse, warmup);
        let fds_ok = end.fds <= warm.fds + FD_SLACK;
        let rss_ok = end.rss_kib <= warm.rss_kib + RSS_SLACK_KIB;
        println!(
            "soak {name}: {n} requests in {:.1} s ({:.0}/s); open fds {} (warm) -> {} (late); RSS {} KiB -> {} KiB{}",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64(),
            warm.fds,
            end.fds,
            warm.rss_kib,
            end.rss_kib,
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
