//! `compat get|post|send URL`, `compat multi URL N`: exercises the 0.10 crate's whole public
//! API against the host, printing one fact per line.
//!
//! Expected failures print `error: <Display>` (or an `err` line for one of several requests)
//! and exit with 1; bad arguments exit with 2. Nothing here panics on a host error.

use std::process::exit;

use bytes::Bytes;
use wasi_experimental_http::Response;

/// The 0.10 crate returns `anyhow::Error`; boxing keeps this guest's dependencies to the three
/// its users would have (`anyhow` converts into the box).
type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn usage() -> ! {
    eprintln!("usage: compat get|post|send URL | compat multi URL N");
    exit(2);
}

fn get_request(url: &str) -> Result<http::Request<Option<Bytes>>> {
    Ok(http::request::Builder::new()
        .method(http::Method::GET)
        .uri(url)
        .body(None)?)
}

/// The 0.10 README's request.
fn post_request(url: &str) -> Result<http::Request<Option<Bytes>>> {
    let req = http::request::Builder::new()
        .method(http::Method::POST)
        .uri(url)
        .header("Content-Type", "text/plain")
        .header("abc", "def");
    let b = Bytes::from("Testing with a request body. Does this actually work?");
    Ok(req.body(Some(b))?)
}

/// Prints status, content type, header count and body of `res`.
fn show(mut res: Response) -> Result<()> {
    println!("status: {}", res.status_code.as_u16());
    match res.header_get("content-type".to_string()) {
        Ok(v) => println!("content-type: {v}"),
        Err(e) => println!("content-type: error {e}"),
    }
    let headers = res.headers_get_all()?;
    println!("headers: {}", headers.len());
    let body = res.body_read_all()?;
    println!("body: {}", String::from_utf8_lossy(&body));
    Ok(())
}

fn send(url: &str) -> Result<()> {
    let res = wasi_experimental_http::send_request(get_request(url)?)?;
    println!("status: {}", res.status().as_u16());
    let body = res.body().as_deref().unwrap_or_default();
    println!("body: {}", String::from_utf8_lossy(body));
    Ok(())
}

fn multi(url: &str, n: usize) -> Result<()> {
    let mut open = Vec::new();
    for i in 0..n {
        match wasi_experimental_http::request(get_request(url)?) {
            Ok(res) => {
                println!("open {i}: ok {}", res.status_code.as_u16());
                open.push((i, res));
            }
            Err(e) => println!("open {i}: err {e}"),
        }
    }
    for (i, res) in &mut open {
        match res.body_read_all() {
            Ok(body) => println!("read {i}: {}", body.len()),
            Err(e) => println!("read {i}: err {e}"),
        }
    }
    Ok(())
}

fn run(args: &[String]) -> Result<()> {
    match args {
        [cmd, url] if cmd == "get" => show(wasi_experimental_http::request(get_request(url)?)?),
        [cmd, url] if cmd == "post" => show(wasi_experimental_http::request(post_request(url)?)?),
        [cmd, url] if cmd == "send" => send(url),
        [cmd, url, n] if cmd == "multi" => multi(url, n.parse().unwrap_or_else(|_| usage())),
        _ => usage(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        println!("error: {e}");
        exit(1);
    }
}
