//! The `wasmtime-http` binary run as a process on hand-written WAT modules: exit statuses,
//! `--invoke`, argv/env, and that the HTTP options reach the host. Loopback only.

// clippy.toml allows these inside #[test] only; the helpers here need them too.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] (servers, fixtures, parsers) panic on failure"
)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Writes `wat` to a file named after the test and returns its path.
fn module(name: &str, wat: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.wat"));
    std::fs::write(&path, wat).unwrap();
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmtime-http"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Checks the status and that stderr is exactly one `error: ...` line; returns that line.
fn one_line_error(out: &Output, status: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(status), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

const ARITH: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "mix") (param i64 f32 f64) (result i64 f32 f64)
    local.get 0 local.get 1 local.get 2)
  (func (export "boom") unreachable))"#;

#[test]
fn invoke_parses_params_and_prints_each_result() {
    let m = module("arith", ARITH);
    let m = m.to_str().unwrap();
    let out = run(&["--invoke", "add", m, "40", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "42\n");

    let out = run(&["-i", "mix", m, "-5", "1.5", "0.25"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "-5\n1.5\n0.25\n");
}

#[test]
fn bad_invoke_argument_is_a_one_line_error() {
    let m = module("arith-bad-arg", ARITH);
    let out = run(&["-i", "add", m.to_str().unwrap(), "1", "two"]);
    let err = one_line_error(&out, 1);
    assert!(err.contains("`two` is not a valid i32"), "{err}");
}

#[test]
fn trap_exits_like_wasmtime_run() {
    let m = module("arith-trap", ARITH);
    let out = run(&["-i", "boom", m.to_str().unwrap()]);
    let expected = if cfg!(windows) { 3 } else { 134 };
    let err = one_line_error(&out, expected);
    assert!(err.contains("unreachable"), "{err}");
}

#[test]
fn missing_export_is_an_error() {
    // No `_start`: the default invocation has nothing to call.
    let m = module("arith-no-start", ARITH);
    let out = run(&[m.to_str().unwrap()]);
    let err = one_line_error(&out, 1);
    assert!(err.contains("`_start`"), "{err}");
}

#[test]
fn invalid_module_is_an_error() {
    let m = module("not-wasm", "this is not a module");
    let err = one_line_error(&run(&[m.to_str().unwrap()]), 1);
    assert!(err.starts_with("error: failed to load module"), "{err}");
}

#[test]
fn unknown_import_is_an_error() {
    let m = module("bad-import", r#"(module (import "nope" "f" (func)))"#);
    let err = one_line_error(&run(&[m.to_str().unwrap()]), 1);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn bad_option_is_a_one_line_error_with_status_1() {
    let err = one_line_error(&run(&["--no-such-option", "m.wasm"]), 1);
    assert!(err.contains("--no-such-option"), "{err}");
    // Rejected by the host's allow-list parser, before the module is even read.
    let err = one_line_error(&run(&["--allowed-host", "not a url", "m.wasm"]), 1);
    assert!(err.contains("not a url"), "{err}");
}

#[test]
fn help_and_version_succeed() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("--allowed-host <ORIGIN>"));
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("wasmtime-http "));
}

#[test]
fn proc_exit_code_becomes_the_process_status() {
    let m = module(
        "exit",
        r#"(module
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          (func (export "_start") (call $exit (i32.const 42))))"#,
    );
    let out = run(&[m.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(42));
    assert_eq!(stderr(&out), "");
}

#[test]
fn guest_sees_file_name_as_argv0_and_only_given_env() {
    // Returns argc, the argv buffer size, and the environment count.
    let m = module(
        "argv",
        r#"(module
          (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "environ_sizes_get" (func $envs (param i32 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "sizes") (result i32 i32 i32)
            (drop (call $args (i32.const 0) (i32.const 4)))
            (drop (call $envs (i32.const 8) (i32.const 12)))
            (i32.load (i32.const 0)) (i32.load (i32.const 4)) (i32.load (i32.const 8))))"#,
    );
    let out = run(&[
        "-e",
        "A=1",
        "-e",
        "B=2",
        "-i",
        "sizes",
        m.to_str().unwrap(),
        "xy",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // argv = ["argv.wat", "xy"]: 2 args, "argv.wat\0xy\0" = 12 bytes, not the full path.
    assert_eq!(stdout(&out), "2\n12\n2\n");
}

/// A guest whose `go` sends `GET <url>` with a 4-byte body and returns (error code, status).
fn http_guest(name: &str, url: &str) -> PathBuf {
    let wat = format!(
        r#"(module
          (import "wasi_experimental_http" "req"
            (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "GET")
          (data (i32.const 8) "body")
          (data (i32.const 64) "{url}")
          (func (export "go") (result i32 i32)
            (call $req (i32.const 64) (i32.const {len}) (i32.const 0) (i32.const 3)
                       (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 4)
                       (i32.const 16) (i32.const 20))
            (i32.load16_u (i32.const 16))))"#,
        len = url.len()
    );
    module(name, &wat)
}

/// Serves one request with `200 OK` on a loopback port; returns the origin.
fn one_shot_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            // Head plus the 4-byte body.
            while !seen.ends_with(b"\r\n\r\nbody") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    origin
}

#[test]
fn allowed_host_option_reaches_the_host() {
    let origin = one_shot_server();
    let m = http_guest("http-allowed", &format!("{origin}/x"));
    let out = run(&["-a", &origin, "-i", "go", m.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "0\n200\n");
}

#[test]
fn without_allowed_host_requests_are_refused() {
    let m = http_guest("http-denied", "http://127.0.0.1:9/x");
    let out = run(&["-i", "go", m.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // 7 = destination_not_allowed; the status out-parameter is left untouched (0).
    assert_eq!(stdout(&out), "7\n0\n");
}

#[test]
fn max_request_body_size_option_reaches_the_host() {
    let m = http_guest("http-body-limit", "http://127.0.0.1:9/x");
    let out = run(&[
        "-a",
        "http://127.0.0.1:9",
        "--max-request-body-size",
        "3",
        "-i",
        "go",
        m.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // 30 = request_body_too_large, decided before any connection is attempted.
    assert_eq!(stdout(&out), "30\n0\n");
}

#[test]
fn dir_option_preopens_the_directory_under_the_guest_path() {
    // Returns fd_prestat_get(3)'s errno and the preopen's name length.
    let m = module(
        "preopen",
        r#"(module
          (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "first") (result i32 i32)
            (call $prestat (i32.const 3) (i32.const 0))
            (i32.load (i32.const 4))))"#,
    );
    let host_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let spec = format!("{}::/data", host_dir.display());
    let out = run(&["--dir", &spec, "-i", "first", m.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // errno 0 and a 5-byte name, "/data".
    assert_eq!(stdout(&out), "0\n5\n");

    let out = run(&["-i", "first", m.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // errno 8 = badf: no preopen without --dir.
    assert_eq!(stdout(&out), "8\n0\n");
}

/// Runs the binary and measures how long the process took.
fn timed_run(args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let out = run(args);
    (out, start.elapsed())
}

/// The one line `--wall-timeout` prints, and nothing else on stderr; status 124.
fn assert_wall_timeout(out: &Output, budget: &str) {
    let err = one_line_error(out, 124);
    assert_eq!(
        err,
        format!("error: wall-clock timeout of {budget}s reached; the guest was stopped\n")
    );
    // A stopped guest's results are not printed.
    assert_eq!(stdout(out), "");
}

/// Accepts connections on a loopback port and never answers (each connection is held open
/// and drained until the test process ends); returns the origin.
fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    origin
}

#[test]
fn wall_timeout_stops_a_guest_waiting_on_http() {
    let origin = silent_server();
    let m = http_guest("wall-http", &format!("{origin}/x"));
    let (out, elapsed) = timed_run(&[
        "-a",
        &origin,
        "--timeout",
        "60",
        "--wall-timeout",
        "1",
        "-i",
        "go",
        m.to_str().unwrap(),
    ]);
    eprintln!("wall_timeout_stops_a_guest_waiting_on_http: exited after {elapsed:?}");
    assert_wall_timeout(&out, "1");
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn wall_timeout_stops_a_guest_that_retries_http_forever() {
    // After the budget every `req` fails at once (deadline_exceeded, then interrupted); the
    // loop around them is stopped by the epoch.
    let origin = silent_server();
    let url = format!("{origin}/x");
    let m = module(
        "wall-http-retry",
        &format!(
            r#"(module
              (import "wasi_experimental_http" "req"
                (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 1)
              (data (i32.const 0) "GET")
              (data (i32.const 64) "{url}")
              (func (export "_start")
                (loop
                  (drop (call $req (i32.const 64) (i32.const {len}) (i32.const 0) (i32.const 3)
                                   (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                                   (i32.const 16) (i32.const 20)))
                  br 0)))"#,
            len = url.len()
        ),
    );
    let (out, elapsed) = timed_run(&[
        "-a",
        &origin,
        "--timeout",
        "60",
        "--wall-timeout",
        "1",
        m.to_str().unwrap(),
    ]);
    eprintln!("wall_timeout_stops_a_guest_that_retries_http_forever: exited after {elapsed:?}");
    assert_wall_timeout(&out, "1");
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn wall_timeout_stops_a_guest_in_an_infinite_loop() {
    let m = module(
        "wall-loop",
        r#"(module (func (export "_start") (loop br 0)))"#,
    );
    let (out, elapsed) = timed_run(&["--wall-timeout", "0.5", m.to_str().unwrap()]);
    eprintln!("wall_timeout_stops_a_guest_in_an_infinite_loop: exited after {elapsed:?}");
    // The epoch trap is the consequence, not the outcome: one line, 124, not 134.
    assert_wall_timeout(&out, "0.5");
    assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn a_guest_finishing_within_the_wall_timeout_keeps_its_own_outcome() {
    let exit = module(
        "wall-exit",
        r#"(module
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          (func (export "_start") (call $exit (i32.const 42))))"#,
    );
    let (out, elapsed) = timed_run(&["--wall-timeout", "30", exit.to_str().unwrap()]);
    eprintln!("a_guest_finishing_within_the_wall_timeout (proc_exit 42): exited after {elapsed:?}");
    assert_eq!(out.status.code(), Some(42), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    // The watchdog is cancelled, not waited out.
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");

    let arith = module("wall-arith", ARITH);
    let arith = arith.to_str().unwrap();
    let (out, elapsed) = timed_run(&["--wall-timeout", "30", "-i", "add", arith, "40", "2"]);
    eprintln!("a_guest_finishing_within_the_wall_timeout (returns): exited after {elapsed:?}");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "42\n");
    assert_eq!(stderr(&out), "");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");

    // A trap within the budget is still a trap.
    let out = run(&["--wall-timeout", "30", "-i", "boom", arith]);
    let err = one_line_error(&out, if cfg!(windows) { 3 } else { 134 });
    assert!(err.contains("unreachable"), "{err}");
}

#[test]
fn readme_reproduces_help_verbatim() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let marker = "$ wasmtime-http --help\n";
    let start = readme.find(marker).unwrap() + marker.len();
    let end = start + readme[start..].find("```").unwrap();
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        &readme[start..end],
        stdout(&out),
        "README.md's copy of --help"
    );
}

/// A guest whose `go` fetches four URLs in turn (each read to its end, then closed) and
/// returns their four codes: URLs at offsets 1024 * (1 + i), lengths as `go`'s parameters.
fn four_fetches_guest(name: &str, urls: [&str; 4]) -> PathBuf {
    let data: String = urls
        .iter()
        .enumerate()
        .map(|(i, u)| format!("(data (i32.const {}) \"{u}\")\n", 1024 * (1 + i)))
        .collect();
    let wat = format!(
        r#"(module
          (import "wasi_experimental_http" "req"
            (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
          (import "wasi_experimental_http" "body_read"
            (func $body_read (param i32 i32 i32 i32) (result i32)))
          (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "GET")
          {data}
          ;; req, then body_read into 8192.. until 0 bytes, then close; the first nonzero code.
          (func $fetch (param $url i32) (param $len i32) (result i32)
            (local $code i32)
            (local.set $code
              (call $req (local.get $url) (local.get $len) (i32.const 0) (i32.const 3)
                         (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                         (i32.const 16) (i32.const 20)))
            (if (local.get $code) (then (return (local.get $code))))
            (block $done
              (loop $more
                (local.set $code
                  (call $body_read (i32.load (i32.const 20)) (i32.const 8192)
                                   (i32.const 4096) (i32.const 24)))
                (br_if $done (local.get $code))
                (br_if $more (i32.load (i32.const 24)))))
            (drop (call $close (i32.load (i32.const 20))))
            (local.get $code))
          (func (export "go") (param i32 i32 i32 i32) (result i32 i32 i32 i32)
            (call $fetch (i32.const 1024) (local.get 0))
            (call $fetch (i32.const 2048) (local.get 1))
            (call $fetch (i32.const 3072) (local.get 2))
            (call $fetch (i32.const 4096) (local.get 3))))"#
    );
    module(name, &wat)
}

/// Serves `200 OK` with a 5-byte body to every request on one keep-alive connection at a
/// time; returns the origin.
fn keep_alive_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            loop {
                while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                    seen.drain(..end + 4);
                    if conn
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                        .is_err()
                    {
                        break;
                    }
                }
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
        }
    });
    origin
}

#[test]
fn audit_log_records_allowed_denied_failed_and_reused_requests() {
    let origin = keep_alive_server();
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let urls = [
        format!("{origin}/first?key=s3cret"),
        format!("{origin}/second"),
        "http://127.0.0.2:9/denied".to_owned(),
        format!("http://127.0.0.1:{dead}/refused"),
    ];
    let m = four_fetches_guest("audit-log", urls.each_ref().map(String::as_str));
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tests/audit-log.jsonl");
    let _ = std::fs::remove_file(&log);
    let lens: Vec<String> = urls.iter().map(|u| u.len().to_string()).collect();
    let mut args = vec!["-a", &origin, "-a"];
    let dead_origin = format!("http://127.0.0.1:{dead}");
    args.push(&dead_origin);
    let log_arg = log.to_str().unwrap();
    args.extend(["--audit-log", log_arg, "--label", "tenant=acme", "-i", "go"]);
    args.push(m.to_str().unwrap());
    args.extend(lens.iter().map(String::as_str));
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // 7 = destination_not_allowed, 16 = connection_refused.
    assert_eq!(stdout(&out), "0\n0\n7\n16\n");

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.ends_with('\n'));
    assert!(
        !text.contains("s3cret"),
        "queries stay out of the log: {text}"
    );
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(events.len(), 4, "{text}");
    let field = |i: usize, k: &str| events[i][k].clone();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["labels"]["tenant"], "acme", "event {i}");
        assert!(e["time"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(field(0, "event"), "completed");
    assert_eq!(field(0, "path"), "/first");
    assert_eq!(field(0, "status"), 200);
    assert_eq!(field(0, "reused"), false);
    assert_eq!(field(0, "received_bytes"), 5);
    assert_eq!(
        field(1, "reused"),
        true,
        "second request on the pooled connection"
    );
    assert_eq!(field(1, "body_complete"), true);
    assert_eq!(field(2, "event"), "denied");
    assert_eq!(field(2, "reason"), "allow_list");
    assert_eq!(field(2, "origin"), "http://127.0.0.2:9");
    assert_eq!(field(3, "event"), "completed");
    assert_eq!(field(3, "code_name"), "connection_refused");
    assert!(field(3, "status").is_null());
    let ids: Vec<u64> = events
        .iter()
        .map(|e| e["request_id"].as_u64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[test]
fn quota_option_refuses_the_request_over_it() {
    let origin = keep_alive_server();
    let url = format!("{origin}/x");
    let m = four_fetches_guest("quota", [&url, &url, &url, &url]);
    let len = url.len().to_string();
    let out = run(&[
        "-a",
        &origin,
        "--quota",
        "requests=2",
        "--quota",
        "received=7",
        "-i",
        "go",
        m.to_str().unwrap(),
        &len,
        &len,
        &len,
        &len,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Two requests admitted: the first body (5 bytes) fits, the second gets 2 of its 5 bytes
    // and then 37; the last two are refused with 37 before anything is sent.
    assert_eq!(stdout(&out), "0\n37\n37\n37\n");
}

#[test]
fn bad_quota_specs_are_one_line_errors() {
    for spec in [
        "requests",
        "per=10s",
        "bytes=5",
        "requests=1,requests=2",
        "sent=5X",
        "requests=1,per=0s",
    ] {
        let m = module("quota-bad", ARITH);
        let out = run(&["--quota", spec, "-i", "add", m.to_str().unwrap(), "1", "2"]);
        let err = one_line_error(&out, 1);
        assert!(err.contains("--quota"), "{spec}: {err}");
    }
}

/// Serves `200 OK` to every request, one keep-alive connection at a time, and records each
/// request head; returns the origin and the heads.
fn recording_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let h = heads.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            loop {
                while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head: Vec<u8> = seen.drain(..end + 4).collect();
                    h.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&head).into_owned());
                    if conn
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .is_err()
                    {
                        break;
                    }
                }
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
        }
    });
    (origin, heads)
}

#[test]
fn injected_secrets_reach_the_server_and_nothing_else() {
    const SECRET: &str = "cli-s3cr3t-91a";
    let (origin, heads) = recording_server();
    let (other, other_heads) = recording_server();
    let url = format!("{origin}/a");
    let other_url = format!("{other}/b");
    let denied = "http://127.0.0.2:9/c";
    let m = four_fetches_guest("inject", [&url, &other_url, denied, &url]);
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tests/inject-secret");
    std::fs::write(&file, format!("file-{SECRET}\n")).unwrap();
    let lens: Vec<String> = [&url, &other_url, denied, &url]
        .iter()
        .map(|u| u.len().to_string())
        .collect();
    let env_binding = format!("{origin}=authorization:INJECT_TEST_TOKEN");
    let file_binding = format!("{origin}=x-file-key:{}", file.display());
    let argv_binding = format!("{origin}=x-plain:not-secret");
    let mut args = vec![
        "-a",
        &origin,
        "-a",
        &other,
        "--inject-header-env",
        &env_binding,
        "--inject-header-file",
        &file_binding,
        "--inject-header",
        &argv_binding,
        "--audit-log",
        "-",
        "-i",
        "go",
        m.to_str().unwrap(),
    ];
    args.extend(lens.iter().map(String::as_str));
    let out = Command::new(env!("CARGO_BIN_EXE_wasmtime-http"))
        .args(&args)
        .env("RUST_LOG", "trace")
        .env("INJECT_TEST_TOKEN", format!("Bearer {SECRET}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "0\n0\n7\n0\n");
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(
        e.contains("\"event\":\"completed\""),
        "the audit log went to stderr: {e}"
    );
    assert!(
        e.contains("TRACE") || e.contains("DEBUG"),
        "logs were on: {e}"
    );
    assert!(
        !o.contains(SECRET) && !e.contains(SECRET),
        "the secret leaked:\n{o}\n{e}"
    );
    let heads = heads.lock().unwrap();
    assert_eq!(heads.len(), 2);
    for h in heads.iter() {
        assert!(
            h.contains(&format!("authorization: Bearer {SECRET}\r\n")),
            "{h}"
        );
        assert!(h.contains(&format!("x-file-key: file-{SECRET}\r\n")), "{h}");
        assert!(h.contains("x-plain: not-secret\r\n"), "{h}");
    }
    let other_heads = other_heads.lock().unwrap();
    assert_eq!(other_heads.len(), 1);
    assert!(!other_heads[0].contains(SECRET), "{}", other_heads[0]);
}

#[test]
fn a_missing_secret_source_is_a_one_line_error_naming_only_the_source() {
    let m = module("inject-missing", ARITH);
    let out = run(&[
        "--inject-header-env",
        "https://a.example=authorization:SURELY_NOT_SET_VAR_42",
        "-i",
        "add",
        m.to_str().unwrap(),
        "1",
        "2",
    ]);
    let err = one_line_error(&out, 1);
    assert!(err.contains("SURELY_NOT_SET_VAR_42"), "{err}");
    let out = run(&[
        "--client-cert",
        "https://a.example=/nonexistent/cert.pem,/nonexistent/key.pem",
        "-i",
        "add",
        m.to_str().unwrap(),
        "1",
        "2",
    ]);
    let err = one_line_error(&out, 1);
    assert!(err.contains("--client-cert"), "{err}");
}

/// Files under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                let p = e.path();
                if p.is_dir() { files_under(&p) } else { 1 }
            })
            .sum()
    })
}

#[test]
fn the_compilation_cache_is_on_by_default_and_off_with_no_cache() {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tests/cache");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let config = base.join("config.toml");
    let dir = base.join("dir");
    std::fs::write(
        &config,
        format!("[cache]\ndirectory = {:?}\n", dir.to_str().unwrap()),
    )
    .unwrap();
    let m = module("cache-arith", ARITH);
    let (m, config) = (m.to_str().unwrap(), config.to_str().unwrap());

    let out = run(&["--no-cache", "-i", "add", m, "1", "2"]);
    assert_eq!(stdout(&out), "3\n", "{}", stderr(&out));
    assert_eq!(files_under(&dir), 0);
    let out = run(&["--cache-config", config, "-i", "add", m, "1", "2"]);
    assert_eq!(stdout(&out), "3\n", "{}", stderr(&out));
    assert!(files_under(&dir) > 0, "the compiled module was cached");
    // From the cache, the same result.
    let out = run(&["--cache-config", config, "-i", "add", m, "40", "2"]);
    assert_eq!(stdout(&out), "42\n", "{}", stderr(&out));

    let bad = base.join("bad.toml");
    std::fs::write(&bad, "[cache]\nno-such-setting = 1\n").unwrap();
    let out = run(&[
        "--cache-config",
        bad.to_str().unwrap(),
        "-i",
        "add",
        m,
        "1",
        "2",
    ]);
    let err = one_line_error(&out, 1);
    assert!(err.contains("cache"), "{err}");
}

#[test]
fn precompiled_modules_run_only_with_allow_precompiled() {
    let engine = wasmtime::Engine::default();
    let cwasm = engine.precompile_module(ARITH.as_bytes()).unwrap();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tests/arith.cwasm");
    std::fs::write(&path, cwasm).unwrap();
    let p = path.to_str().unwrap();
    let out = run(&["-i", "add", p, "1", "2"]);
    let err = one_line_error(&out, 1);
    assert!(err.contains("--allow-precompiled"), "{err}");
    let out = run(&["--allow-precompiled", "-i", "add", p, "1", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "3\n");
}

/// A fake HTTP proxy: answers one request with `200 OK` and hands its head (the 4-byte body
/// excluded) to the test. Returns its `host:port` and the receiver.
fn recording_proxy() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !seen.ends_with(b"\r\n\r\nbody") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&seen[..seen.len() - 4]).into_owned();
            let _ = tx.send(head);
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    (addr, rx)
}

#[test]
fn proxy_option_sends_http_in_absolute_form_with_credentials() {
    let (proxy, heard) = recording_proxy();
    let m = http_guest("proxy-flag", "http://127.0.0.1:9/x?y");
    let proxy_url = format!("http://Aladdin:open%20sesame@{proxy}");
    let out = run(&[
        "-a",
        "http://127.0.0.1:9",
        "--proxy",
        &proxy_url,
        "-i",
        "go",
        m.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "0\n200\n");
    let head = heard.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        head.starts_with("GET http://127.0.0.1:9/x?y HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"),
        "{head}"
    );
}

/// Runs the binary with none of the proxy variables of the test's own environment, and `vars`.
fn run_with_proxy_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmtime-http"));
    cmd.args(args).env_remove("RUST_LOG");
    for name in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "no_proxy",
        "NO_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        cmd.env_remove(name);
    }
    cmd.envs(vars.iter().copied()).output().unwrap()
}

/// The conventional variables count only with `--proxy-from-env`; NO_PROXY sends a host
/// direct.
#[test]
fn proxy_variables_only_with_proxy_from_env() {
    let with_env = run_with_proxy_env;
    // Ignored without the flag: the request goes direct to the server.
    let origin = one_shot_server();
    let m = http_guest("proxy-env-ignored", &format!("{origin}/x"));
    let out = with_env(
        &["-a", &origin, "-i", "go", m.to_str().unwrap()],
        &[("http_proxy", "127.0.0.1:9")],
    );
    assert_eq!(stdout(&out), "0\n200\n", "{}", stderr(&out));

    // With the flag: a value without a scheme is an http:// proxy.
    let (proxy, heard) = recording_proxy();
    let m = http_guest("proxy-env", "http://127.0.0.1:9/env");
    let out = with_env(
        &[
            "--proxy-from-env",
            "-a",
            "http://127.0.0.1:9",
            "-i",
            "go",
            m.to_str().unwrap(),
        ],
        &[("http_proxy", proxy.as_str())],
    );
    assert_eq!(stdout(&out), "0\n200\n", "{}", stderr(&out));
    let head = heard.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        head.starts_with("GET http://127.0.0.1:9/env HTTP/1.1\r\n"),
        "{head}"
    );

    // NO_PROXY: direct, although the proxy variable names a port nothing listens on.
    let origin = one_shot_server();
    let m = http_guest("proxy-env-bypassed", &format!("{origin}/x"));
    let out = with_env(
        &[
            "--proxy-from-env",
            "-a",
            &origin,
            "-i",
            "go",
            m.to_str().unwrap(),
        ],
        &[
            ("http_proxy", "127.0.0.1:9"),
            ("no_proxy", "localhost, 127.0.0.1"),
        ],
    );
    assert_eq!(stdout(&out), "0\n200\n", "{}", stderr(&out));
}

#[test]
fn bad_proxy_options_are_one_line_errors_without_the_password() {
    for (args, needle) in [
        (
            &["--proxy", "https://u:hunter2@127.0.0.1:3128"][..],
            "not supported",
        ),
        (&["--proxy", "http://u:hunter2@127.0.0.1"][..], "port"),
        (&["--no-proxy", "example.com"][..], "no proxy"),
        (
            &[
                "--proxy",
                "http://127.0.0.1:3128",
                "--no-proxy",
                "example.com:80",
            ][..],
            "example.com:80",
        ),
    ] {
        let mut all = args.to_vec();
        all.push("m.wasm");
        let err = one_line_error(&run(&all), 1);
        assert!(
            err.contains(needle) && !err.contains("hunter2"),
            "{args:?}: {err}"
        );
    }
}

/// httpoxy: under a CGI-style launcher a client's `Proxy:` request header becomes the
/// variable HTTP_PROXY, so `--proxy-from-env` ignores that one (as curl does) and still reads
/// `http_proxy`, `HTTPS_PROXY` and the rest.
#[test]
fn proxy_from_env_ignores_upper_case_http_proxy() {
    // HTTP_PROXY names a listening proxy: it must hear nothing, the origin gets the request.
    let (proxy, heard) = recording_proxy();
    let origin = one_shot_server();
    let m = http_guest("httpoxy", &format!("{origin}/x"));
    let out = run_with_proxy_env(
        &[
            "--proxy-from-env",
            "-a",
            &origin,
            "-i",
            "go",
            m.to_str().unwrap(),
        ],
        &[("HTTP_PROXY", proxy.as_str())],
    );
    assert_eq!(stdout(&out), "0\n200\n", "{}", stderr(&out));
    assert!(
        heard.recv_timeout(Duration::from_millis(300)).is_err(),
        "the request went through HTTP_PROXY"
    );

    // The lower-case name next to it wins and is used.
    let (proxy, heard) = recording_proxy();
    let m = http_guest("httpoxy-lower", "http://127.0.0.1:9/lower");
    let out = run_with_proxy_env(
        &[
            "--proxy-from-env",
            "-a",
            "http://127.0.0.1:9",
            "-i",
            "go",
            m.to_str().unwrap(),
        ],
        &[
            ("HTTP_PROXY", "127.0.0.1:9"),
            ("http_proxy", proxy.as_str()),
        ],
    );
    assert_eq!(stdout(&out), "0\n200\n", "{}", stderr(&out));
    let head = heard.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        head.starts_with("GET http://127.0.0.1:9/lower HTTP/1.1\r\n"),
        "{head}"
    );
}

/// A marker standing for a secret: it must appear in no output of a failed run.
const SECRET: &str = "s3cr3t-c0ffee";

/// Runs the binary (logs at debug level, so the debug log of the error chain is checked too)
/// with `vars` set; expects a one-line `error:` and status 1 on stderr, and the marker nowhere.
fn assert_fails_without_secret(args: &[&str], vars: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmtime-http"));
    cmd.args(args).env("RUST_LOG", "debug");
    for name in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        cmd.env_remove(name);
    }
    let out = cmd.envs(vars.iter().copied()).output().unwrap();
    let (o, e) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{args:?}: {e}");
    assert!(
        !o.contains(SECRET) && !e.contains(SECRET),
        "{args:?} {vars:?} printed the secret:\n{o}\n{e}"
    );
    e.lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{args:?}: no error line: {e}"))
        .to_owned()
}

/// `--inject-header` carries the secret in the argument itself: neither the argument parser's
/// error for a malformed one nor the configuration error for a bad value repeats it.
#[test]
fn a_malformed_inject_header_is_not_echoed() {
    let m = module("secret-inject", ARITH);
    let m = m.to_str().unwrap();
    for value in [
        // No `=`, no `:`, an empty origin or name: the argument parser's errors.
        format!("https://a.example/authorization:Bearer {SECRET}"),
        format!("https://a.example=authorization Bearer {SECRET}"),
        format!("=authorization:Bearer {SECRET}"),
        format!("https://a.example=:{SECRET}"),
        // Well-formed but refused by the host: control characters, edge whitespace, a name
        // the host owns, a bad origin pattern.
        format!("https://a.example=authorization:Bearer {SECRET}\r\nx: y"),
        format!("https://a.example=authorization: {SECRET}"),
        format!("https://a.example=host:{SECRET}"),
        format!("https://a.exa mple=authorization:{SECRET}"),
    ] {
        let line = assert_fails_without_secret(&["--inject-header", &value, "-i", "add", m], &[]);
        assert!(line.contains("inject"), "{value:?}: {line}");
    }
    // Misspelt, or with its value glued on: clap's "unexpected argument".
    let glued = format!("--inject-headr=https://a.example=authorization:{SECRET}");
    assert_fails_without_secret(&[&glued, m], &[]);
    let glued = format!("--inject-header=https://a.example=authorization {SECRET}");
    assert_fails_without_secret(&[&glued, m], &[]);
}

/// The value read from a variable or a file is refused without being shown; so is a
/// malformed argument of either option (which should name a variable or a file, but may hold
/// the secret by mistake).
#[test]
fn bad_inject_header_env_and_file_values_are_not_echoed() {
    let m = module("secret-inject-source", ARITH);
    let m = m.to_str().unwrap();
    // (An environment variable cannot hold a NUL; a file can.)
    let bad_values = [
        format!("Bearer {SECRET}\r\nx: y"),
        format!(" {SECRET}"),
        format!("{SECRET}\u{1}"),
        format!("{SECRET}\u{0}"),
    ];
    for value in &bad_values[..3] {
        let line = assert_fails_without_secret(
            &[
                "--inject-header-env",
                "https://a.example=authorization:INJECT_SECRET_VAR",
                "-i",
                "add",
                m,
            ],
            &[("INJECT_SECRET_VAR", value)],
        );
        assert!(line.contains("inject"), "{value:?}: {line}");
    }
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tests/bad-inject-secret");
    for value in &bad_values {
        std::fs::write(&file, value).unwrap();
        let binding = format!("https://a.example=x-key:{}", file.display());
        let line =
            assert_fails_without_secret(&["--inject-header-file", &binding, "-i", "add", m], &[]);
        assert!(line.contains("inject"), "{value:?}: {line}");
    }
    for option in ["--inject-header-env", "--inject-header-file"] {
        for value in [
            format!("https://a.example/authorization:{SECRET}"),
            format!("https://a.example={SECRET}"),
        ] {
            assert_fails_without_secret(&[option, &value, m], &[]);
        }
    }
}

/// A private key the TLS library cannot use is refused without its bytes, and so is the
/// certificate file; `--client-cert` itself carries only paths.
#[test]
fn a_bad_client_key_is_not_echoed() {
    let m = module("secret-client-cert", ARITH);
    let m = m.to_str().unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tests");
    let (cert, key) = (dir.join("bad-client.crt"), dir.join("bad-client.key"));
    let garbage_pem =
        |label: &str| format!("-----BEGIN {label}-----\n{SECRET}{SECRET}\n-----END {label}-----\n");
    for (cert_text, key_text) in [
        (garbage_pem("CERTIFICATE"), garbage_pem("PRIVATE KEY")),
        (String::new(), format!("{SECRET}\n")),
        (garbage_pem("CERTIFICATE"), garbage_pem("EC PRIVATE KEY")),
    ] {
        std::fs::write(&cert, &cert_text).unwrap();
        std::fs::write(&key, &key_text).unwrap();
        let binding = format!("https://a.example={},{}", cert.display(), key.display());
        let line = assert_fails_without_secret(&["--client-cert", &binding, "-i", "add", m], &[]);
        assert!(line.contains("client"), "{line}");
    }
}

/// The proxy password, in `--proxy` or in a variable `--proxy-from-env` reads, is in no error
/// about a malformed proxy URL, whatever characters it holds.
#[test]
fn a_malformed_proxy_url_is_not_echoed() {
    let m = module("secret-proxy", ARITH);
    let m = m.to_str().unwrap();
    let urls = [
        format!("https://u:{SECRET}@127.0.0.1:3128"),
        format!("http://u:{SECRET}@127.0.0.1"),
        format!("http://u:{SECRET}@127.0.0.1:99999"),
        format!("http://u:{SECRET}@127.0.0.1:3128/path"),
        format!("http://u:{SECRET}@[::1:3128"),
        format!("http://u:{SECRET}@"),
        format!("socks5://u:{SECRET}@127.0.0.1:1080"),
        format!("http://u:{SECRET}%zz@127.0.0.1:3128"),
    ];
    assert_proxy_urls_not_echoed(m, &urls);
}

/// A password holding `/`, `?` or `#` (which end a URL's authority) is redacted as a whole too:
/// the redaction finds the last `@` before the host, not the first delimiter.
#[test]
fn a_proxy_password_with_url_delimiters_is_not_echoed() {
    let m = module("secret-proxy-delimiters", ARITH);
    let urls = [
        format!("http://u:pa/{SECRET}@127.0.0.1"),
        format!("http://u:pa?{SECRET}@127.0.0.1"),
        format!("http://u:pa#{SECRET}@127.0.0.1"),
        format!("http://u:{SECRET}/x@127.0.0.1:3128:1"),
        format!("https://u:pa/{SECRET}@127.0.0.1:3128"),
    ];
    assert_proxy_urls_not_echoed(m.to_str().unwrap(), &urls);
}

/// Each URL through `--proxy`, through each variable `--proxy-from-env` reads, and there
/// without its scheme: a one-line error without the secret.
fn assert_proxy_urls_not_echoed(m: &str, urls: &[String]) {
    for url in urls {
        assert_fails_without_secret(&["--proxy", url, "-i", "add", m], &[]);
        for var in ["http_proxy", "https_proxy", "HTTPS_PROXY"] {
            assert_fails_without_secret(&["--proxy-from-env", "-i", "add", m], &[(var, url)]);
        }
        // Without a scheme, as the variables are often written.
        let bare = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        assert_fails_without_secret(
            &["--proxy-from-env", "-i", "add", m],
            &[("https_proxy", bare)],
        );
    }
}

/// `--env` often carries the guest's API keys: a malformed one is refused without its value.
#[test]
fn a_malformed_env_option_is_not_echoed() {
    let m = module("secret-env", ARITH);
    let m = m.to_str().unwrap();
    for value in [format!("API_KEY:{SECRET}"), format!("={SECRET}")] {
        let line = assert_fails_without_secret(&["-e", &value, m], &[]);
        assert!(line.contains("--env"), "{line}");
    }
}

/// wasmtime's WASI accepts `proc_exit` codes 0 to 125 only; `--help` says so, and says what
/// happens to the others (AssemblyScript's `abort()` exits with 255): status 1 and one line.
#[test]
fn proc_exit_codes_from_126_are_refused_as_help_says() {
    let exit_with = |code: i32| {
        let m = module(
            &format!("exit-{code}"),
            &format!(
                r#"(module
                  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                  (memory (export "memory") 1)
                  (func (export "_start") (call $exit (i32.const {code}))))"#
            ),
        );
        run(&[m.to_str().unwrap()])
    };
    for code in [0, 1, 125] {
        let out = exit_with(code);
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        assert_eq!(stderr(&out), "");
    }
    for code in [126, 127, 128, 255, 256, -1] {
        let err = one_line_error(&exit_with(code), 1);
        assert!(
            err.contains("exit with invalid exit status"),
            "{code}: {err}"
        );
    }
    let help = stdout(&run(&["--help"])).replace('\n', " ");
    assert!(
        help.contains("the guest's own exit code when it calls proc_exit with 0 to 125"),
        "{help}"
    );
    assert!(
        help.contains(
            "proc_exit(255), ends with status 1 and the error `exit with invalid exit status`"
        ),
        "{help}"
    );
}

/// Every duration option takes `500ms`, `2s`, `1.5s` and a plain number of seconds, as `--help`
/// says; the old spellings keep working.
#[test]
fn one_duration_syntax_for_every_option() {
    let origin = keep_alive_server();
    let url = format!("{origin}/x");
    let m = four_fetches_guest("durations", [&url, &url, &url, &url]);
    let len = url.len().to_string();
    let out = run(&[
        "-a",
        &origin,
        "--connect-timeout",
        "1500ms",
        "--header-timeout",
        "2s",
        "--idle-timeout",
        "2.5",
        "--timeout",
        "1m",
        "--wall-timeout",
        "0.5h",
        // Two requests per minute, the window written as plain seconds.
        "--quota",
        "requests=2,per=60",
        "-i",
        "go",
        m.to_str().unwrap(),
        &len,
        &len,
        &len,
        &len,
    ]);
    assert_eq!(stdout(&out), "0\n0\n37\n37\n", "{}", stderr(&out));

    // A unit on --wall-timeout: the budget is reported in seconds.
    let m = module(
        "wall-loop-ms",
        r#"(module (func (export "_start") (loop br 0)))"#,
    );
    let (out, elapsed) = timed_run(&["--wall-timeout", "300ms", m.to_str().unwrap()]);
    assert_wall_timeout(&out, "0.3");
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");

    for (option, bad) in [
        ("--timeout", "5x"),
        ("--wall-timeout", "0ms"),
        ("--quota", "requests=1,per=1.5q"),
    ] {
        let err = one_line_error(&run(&[option, bad, m.to_str().unwrap()]), 1);
        assert!(err.contains(option), "{err}");
    }
    let help = stdout(&run(&["--help"]));
    assert!(help.contains("--timeout <DURATION>"), "{help}");
    assert!(!help.contains("SECS"), "{help}");
}
