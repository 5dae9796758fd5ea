//! `echo-server [--addr 127.0.0.1:0]`: the tests' echo server as a standalone process.
//!
//! Prints `listening on http://ADDR` as its first stdout line, then serves until killed.
//! Every request gets `200`, the request's content-type (default `text/plain`) and, as body,
//! the request body for POST/PUT or a description of the request for other methods.

use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:0".to_string();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(a)) => addr = a,
            _ => {
                eprintln!("usage: echo-server [--addr 127.0.0.1:0]");
                std::process::exit(2);
            }
        }
    }
    let server = match e2e::server::TestServer::echo_at(&addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("echo-server: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout().lock();
    // The demo script reads this line to learn the port; it must not sit in a buffer.
    let _ = writeln!(out, "listening on {}", server.origin());
    let _ = out.flush();
    drop(out);
    loop {
        std::thread::park();
    }
}
