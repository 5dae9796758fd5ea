//! The shipped examples run as documented: `post-echo` (the 0.10 README's code, unchanged) and
//! `minimal-get` (the no_std size floor).

use std::path::PathBuf;

use e2e::ctx_allowing;
use e2e::foreign::{as_guest, c_guest, file_size};
use e2e::guests::guest_wasm;
use e2e::run::{GuestOutput, run_guest};
use e2e::server::TestServer;
use wasi_experimental_http_host::{ErrorCode, HttpCtx};

/// The no_std GET stays under 2 KB (README, "Guests": 1978 bytes when written).
const MINIMAL_GET_MAX_BYTES: u64 = 2048;

fn minimal_get_wasm() -> PathBuf {
    guest_wasm("examples/minimal-get", "minimal_get")
}

/// Runs `minimal-get URL` with `ctx`.
fn minimal_get(ctx: HttpCtx, url: &str) -> GuestOutput {
    run_guest(&minimal_get_wasm(), ctx, &[url])
}

// The README example prints the content type (`{:#?}` of a Result<String>), the echoed body and
// the status, exactly as the original's output shape.
#[test]
fn post_echo_prints_content_type_body_and_status() {
    let server = TestServer::echo();
    let out = run_guest(
        &guest_wasm("examples", "post-echo"),
        ctx_allowing([server.origin()]),
        &[&server.url("/post")],
    );
    out.assert_success();
    assert_eq!(
        out.stdout,
        "Ok(\n    \"text/plain\",\n)\nTesting with a request body. Does this actually work?\n200\n",
        "{out}"
    );
    let r = server.wait_requests(1);
    assert_eq!(r[0].header("abc"), Some("def"));
}

// minimal-get prints the status and the start of the body.
#[test]
fn minimal_get_prints_status() {
    let server = TestServer::echo();
    let out = minimal_get(ctx_allowing([server.origin()]), &server.url("/min"));
    out.assert_status(200).assert_line("body: ", "GET /min");
}

// minimal-get reports a refused destination as an error name and exit code 1.
#[test]
fn minimal_get_reports_errors() {
    let server = TestServer::echo();
    let out = minimal_get(ctx_allowing(["http://127.0.0.1:1"]), &server.url("/"));
    assert_eq!(out.exit_code, 1, "{out}");
    out.assert_line(
        "error: ",
        &ErrorCode::DestinationNotAllowed.code().to_string(),
    );
    server.assert_untouched();
}

// README, "Authors of size-constrained guests": the minimal GET example stays small.
#[test]
fn minimal_get_wasm_is_a_few_kilobytes() {
    let wasm = minimal_get_wasm();
    let size = std::fs::metadata(&wasm).unwrap().len();
    println!("minimal-get: {size} bytes ({})", wasm.display());
    assert!(
        size < MINIMAL_GET_MAX_BYTES,
        "minimal-get is {size} bytes, limit {MINIMAL_GET_MAX_BYTES}"
    );
}

// README, "Guests": the smallest complete GET program of each guest language, built as the
// README says, runs and stays within its size budget. `--nocapture` prints the table the README
// quotes. The budgets are the README's figures with some room, so that a change that bloats a
// guest (a std dependency in the no_std path, a table pulled in by a helper) fails here.
#[test]
fn smallest_get_programs_run_and_stay_small() {
    let server = TestServer::echo();
    let programs = [
        ("Rust no_std", minimal_get_wasm(), 2048u64),
        ("Rust http", guest_wasm("examples", "http-get"), 128 * 1024),
        (
            "AssemblyScript",
            as_guest(
                "get",
                &["-Oz", "--converge", "--runtime", "stub", "--noAssert"],
            ),
            24 * 1024,
        ),
        (
            "C",
            c_guest("examples/c/get.c", &["-Oz", "-Wl,--strip-all"]),
            4096,
        ),
    ];
    for (lang, wasm, budget) in programs {
        let size = file_size(&wasm);
        println!("{lang:<16} {size:>7} bytes  {}", wasm.display());
        let out = run_guest(
            &wasm,
            ctx_allowing([server.origin()]),
            &[&server.url("/size")],
        );
        assert_eq!(out.exit_code, 0, "{lang}: {out}");
        assert!(out.stdout.contains("200"), "{lang}: {out}");
        assert!(out.stdout.contains("GET /size"), "{lang}: {out}");
        assert!(size <= budget, "{lang}: {size} bytes, budget {budget}");
    }
}
