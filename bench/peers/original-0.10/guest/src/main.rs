//! The peer benchmark's workload, against the original `wasi-experimental-http` 0.10.0 guest
//! crate. Arguments come through WASI args:
//!
//! - `original-guest requests URL N`: N sequential GETs of URL, each status checked == 200 and
//!   each body read to the end (64 KiB reads) before the response is dropped (which closes it);
//! - `original-guest stream URL BYTES BUF`: one GET whose body is read with reads of at most BUF
//!   bytes into one buffer in guest memory, the total checked == BYTES.
//!
//! Nothing is printed on success (a WASI write costs more than a small request); a failure
//! prints one line on stderr and exits with 1, bad arguments exit with 2.

use std::process::exit;

use wasi_experimental_http::Response;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn usage() -> ! {
    eprintln!("usage: original-guest requests URL N | original-guest stream URL BYTES BUF");
    exit(2);
}

fn number(s: Option<String>) -> u64 {
    s.and_then(|s| s.parse().ok()).unwrap_or_else(|| usage())
}

fn get(url: &str) -> Result<Response> {
    let req = http::request::Builder::new()
        .method(http::Method::GET)
        .uri(url)
        .body(None)?;
    let res = wasi_experimental_http::request(req)?;
    if res.status_code != http::StatusCode::OK {
        return Err(format!("status {}", res.status_code.as_u16()).into());
    }
    Ok(res)
}

/// Reads the body to its end with reads of `buf.len()` bytes; returns the total.
fn drain(res: &mut Response, buf: &mut [u8]) -> Result<u64> {
    let mut total = 0u64;
    loop {
        let n = res.body_read(buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

fn requests(url: &str, n: u64) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..n {
        let mut res = get(url)?;
        drain(&mut res, &mut buf)?;
    }
    Ok(())
}

fn stream(url: &str, bytes: u64, buf_len: u64) -> Result<()> {
    let mut buf = vec![0u8; usize::try_from(buf_len)?];
    let mut res = get(url)?;
    let total = drain(&mut res, &mut buf)?;
    if total != bytes {
        return Err(format!("read {total} bytes, expected {bytes}").into());
    }
    Ok(())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (cmd, url) = match (args.next(), args.next()) {
        (Some(c), Some(u)) => (c, u),
        _ => usage(),
    };
    let result = match cmd.as_str() {
        "requests" => requests(&url, number(args.next())),
        "stream" => {
            let bytes = number(args.next());
            stream(&url, bytes, number(args.next()))
        }
        _ => usage(),
    };
    if let Err(e) = result {
        eprintln!("original-guest: {e}");
        exit(1);
    }
}
