//! Response bodies stream: a 1 GiB body passes through `body_read` into the `fetch` guest while
//! host memory stays bounded (abi.md "Overview" guarantees and body_read NOTES).
//!
//! A file of its own: the memory bound is measured on this process's peak RSS, which other tests
//! running in parallel threads of the same process would disturb.

use std::time::{Duration, Instant};

use e2e::ctx_allowing_with_timeouts;
use e2e::guests::guest_wasm;
use e2e::run::{load_module, run_module};
use e2e::server::{Fnv1a64, Reply, TestServer, pattern_for_each};

const GIB: u64 = 1 << 30;

/// The tests of this file run one at a time: they measure this process's memory and share two
/// cores with everything else.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
/// Host memory growth allowed while streaming 1 GiB. The host's per-response buffer is a few
/// KiB; the slack covers the allocator, the server thread and the captured guest output.
const MAX_GROWTH_KIB: u64 = 64 * 1024;

/// A field of /proc/self/status, in KiB.
#[allow(
    clippy::expect_used,
    reason = "test helper outside #[test]: a panic here is the test failing with a message"
)]
fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn expected_fnv(len: u64) -> Fnv1a64 {
    let mut fnv = Fnv1a64::default();
    pattern_for_each(len, |b| fnv.update(b));
    fnv
}

// abi.md "Overview" ("host memory per open response is bounded") and body_read NOTES: a 1 GiB
// Content-Length body is delivered byte-exact (count and FNV-1a of a pattern the server
// generates on the fly, compared with the same generator here) while the process's peak RSS
// grows by less than 64 MiB: nothing buffers the body, on either side of the ABI.
#[test]
fn one_gib_body_streams_through_body_read_in_bounded_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::scripted(vec![
        Reply::raw(format!("HTTP/1.1 200 OK\r\nContent-Length: {GIB}\r\n\r\n")).pattern(GIB),
    ]);
    let ctx = ctx_allowing_with_timeouts([server.origin()], |t| t.total = Duration::from_secs(600));
    // Everything that allocates for its own reasons happens before the measurement starts.
    let module = load_module(&guest_wasm("tests/guests", "fetch"));
    let want_fnv = expected_fnv(GIB);

    // Reset the peak ("5" clears VmHWM, Linux >= 4.0). If that is not possible, the peak so far
    // is the baseline, which only makes the check stricter.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let baseline = if reset {
        proc_status_kib("VmRSS:")
    } else {
        proc_status_kib("VmHWM:")
    };
    let start = Instant::now();
    let url = server.url("/big");
    let out = run_module(&module, "fetch", ctx, &["GET", &url, "--discard"]);
    let elapsed = start.elapsed();
    let peak = proc_status_kib("VmHWM:");

    out.assert_body_digest(GIB, want_fnv);
    let growth = peak.saturating_sub(baseline);
    println!(
        "streamed 1 GiB in {elapsed:.1?} ({:.0} MiB/s); peak RSS {} MiB, growth {} KiB (clear_refs reset: {reset})",
        1024.0 / elapsed.as_secs_f64(),
        peak / 1024,
        growth
    );
    assert!(
        growth < MAX_GROWTH_KIB,
        "peak RSS grew by {growth} KiB while streaming 1 GiB (limit {MAX_GROWTH_KIB} KiB)"
    );
}

// RFC 9112 §7.1: the chunked decoder streams too: 256 MiB in 1 MiB chunks, byte-exact.
#[test]
fn large_chunked_body_streams_byte_exact() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const CHUNK: u64 = 1 << 20;
    const CHUNKS: u64 = 256;
    let mut reply = Reply::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for _ in 0..CHUNKS {
        // The pattern restarts at offset 0 in each step; the expected hash below does the same.
        reply = reply
            .send(format!("{CHUNK:x};n=v\r\n"))
            .pattern(CHUNK)
            .send("\r\n");
    }
    reply = reply.send("0\r\n\r\n");
    let server = TestServer::scripted(vec![reply]);
    let ctx = ctx_allowing_with_timeouts([server.origin()], |t| t.total = Duration::from_secs(300));
    let mut fnv = Fnv1a64::default();
    for _ in 0..CHUNKS {
        pattern_for_each(CHUNK, |b| fnv.update(b));
    }
    let module = load_module(&guest_wasm("tests/guests", "fetch"));
    let url = server.url("/chunked");
    let out = run_module(
        &module,
        "fetch",
        ctx,
        &["GET", &url, "--discard", "--buf", "65521"],
    );
    out.assert_body_digest(CHUNK * CHUNKS, fnv);
}
