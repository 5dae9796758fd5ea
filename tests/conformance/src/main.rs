//! `conformance`: runs the kit against a host CLI.
//!
//! ```text
//! conformance [--filter TEXT] [--jobs N] [--out DIR] [--list] -- CLI [CLI-ARGS...]
//! ```
//!
//! For every case: starts a loopback server, writes the case's module to DIR (default: a
//! temporary directory), runs `CLI [CLI-ARGS...] -a ORIGIN... MODULE.wasm`, and compares
//! stdout, the exit status and what the server received with the case's expectations. Prints
//! one line per case and a summary `N passed, N failed`; exits 1 if any case failed.
#![allow(
    clippy::unwrap_used,
    reason = "a command-line tool: a panic is a usage error"
)]

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut filter = String::new();
    let mut jobs = 2usize;
    let mut out: Option<PathBuf> = None;
    let mut list = false;
    let mut cli = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--filter" => filter = args.next().unwrap_or_default(),
            "--jobs" => jobs = args.next().and_then(|n| n.parse().ok()).unwrap_or(2),
            "--out" => out = args.next().map(PathBuf::from),
            "--list" => list = true,
            "--" => {
                cli.extend(args.by_ref());
            }
            "-h" | "--help" => {
                println!(
                    "usage: conformance [--filter TEXT] [--jobs N] [--out DIR] [--list] -- CLI [CLI-ARGS...]"
                );
                return;
            }
            other => {
                eprintln!("conformance: unknown argument {other:?} (see --help)");
                std::process::exit(2);
            }
        }
    }
    if list {
        for case in conformance::cases::all() {
            println!("{}  ({})", case.name, case.spec);
        }
        return;
    }
    if cli.is_empty() {
        eprintln!("conformance: no CLI given: conformance -- path/to/wasmtime-http");
        std::process::exit(2);
    }
    let dir = out.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("wasi-http-conformance-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).unwrap();
    let outcomes = conformance::run_all(&cli, &filter, &dir, jobs);
    let mut failed = 0;
    for o in &outcomes {
        if o.passed {
            println!("ok   {}", o.name);
        } else {
            failed += 1;
            println!("FAIL {}\n{}", o.name, o.detail);
        }
    }
    println!("{} passed, {} failed", outcomes.len() - failed, failed);
    println!("modules: {}", dir.display());
    if failed > 0 {
        std::process::exit(1);
    }
}
