//! `fetch METHOD URL [options]`: sends one request (or several, sequentially) and prints what
//! came back, one fact per line, for the end-to-end tests to compare.
//!
//! Options:
//! - `-H name:value` (repeatable): append `name:value\n` to the header block;
//! - `--raw-headers STRING`: start the header block with STRING, after decoding the escapes
//!   `\n \r \t \0 \\ \" \' \xHH` (any byte, unlike Rust strings: abuse tests need non-UTF-8);
//! - `--body TEXT` / `--body-size N` (N bytes of `x`);
//! - `--buf N`: body read buffer size (default 65536; 0 shows the host's `buffer_too_small`);
//! - `--discard`: do not print the body, only its length and hash;
//! - `--no-hash`: do not hash the body (no `body-fnv:` line): the benchmark uses it so that the
//!   guest's own per-byte work does not hide the host's throughput;
//! - `--header NAME` (repeatable): print that header's value;
//! - `--all-headers`: print the whole header block;
//! - `--no-body`: do not read the body;
//! - `--repeat N`: do everything N times, each response read and closed before the next;
//! - `--quiet`: print nothing but errors, and at the end `requests: <n>` and `body-bytes: <n>`
//!   (the total): the benchmark uses it because three WASI writes to stdout cost the guest more
//!   than a keep-alive request.
//!
//! Output: `status: <n>`; `header NAME: <value>` or `header NAME: error <code> <name>` (an
//! expected outcome, so the run goes on); `headers:` and the block; `body: <text>` (lossy
//! UTF-8, without `--discard`); `body-bytes: <n>`; `body-fnv: <FNV-1a-64, 16 hex digits>`.
//! Any other error prints `error: <stage> <code> <name>` (stage `req`, `headers` or `body`) and
//! exits with 1. Bad arguments exit with 2.

use std::process::exit;

use wasi_experimental_http::{Error, IncomingResponse, Request};

struct Options {
    method: String,
    url: String,
    headers: Vec<u8>,
    body: Vec<u8>,
    buf: usize,
    discard: bool,
    no_hash: bool,
    header_names: Vec<String>,
    all_headers: bool,
    no_body: bool,
    repeat: usize,
    quiet: bool,
}

fn usage(why: &str) -> ! {
    eprintln!("fetch: {why}");
    eprintln!(
        "usage: fetch METHOD URL [-H name:value]... [--raw-headers S] [--body TEXT] \
         [--body-size N] [--buf N] [--discard] [--header NAME]... [--all-headers] [--no-body] \
         [--repeat N]"
    );
    exit(2);
}

/// Decodes the escapes of `--raw-headers`.
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let decoded = match bytes.next() {
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'0') => 0,
            Some(c @ (b'\\' | b'"' | b'\'')) => c,
            Some(b'x') => {
                let hex = [bytes.next(), bytes.next()];
                let hex: Option<Vec<u8>> = hex.into_iter().collect();
                hex.and_then(|h| String::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(&h, 16).ok())
                    .ok_or("\\x needs two hex digits")?
            }
            other => return Err(format!("unknown escape {:?}", other.map(char::from))),
        };
        out.push(decoded);
    }
    Ok(out)
}

fn parse_args() -> Options {
    let mut args = std::env::args().skip(1);
    let (Some(method), Some(url)) = (args.next(), args.next()) else {
        usage("METHOD and URL are required");
    };
    let mut o = Options {
        method,
        url,
        headers: Vec::new(),
        body: Vec::new(),
        buf: 65536,
        discard: false,
        no_hash: false,
        header_names: Vec::new(),
        all_headers: false,
        no_body: false,
        repeat: 1,
        quiet: false,
    };
    let mut raw_headers = Vec::new();
    let mut extra_headers = Vec::new();
    while let Some(opt) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{opt} needs a value")))
        };
        let number = |v: String| v.parse::<usize>().unwrap_or_else(|_| usage("not a number"));
        match opt.as_str() {
            "-H" => {
                extra_headers.extend_from_slice(value().as_bytes());
                extra_headers.push(b'\n');
            }
            "--raw-headers" => raw_headers = unescape(&value()).unwrap_or_else(|e| usage(&e)),
            "--body" => o.body = value().into_bytes(),
            "--body-size" => o.body = vec![b'x'; number(value())],
            "--buf" => o.buf = number(value()),
            "--discard" => o.discard = true,
            "--no-hash" => o.no_hash = true,
            "--header" => o.header_names.push(value()),
            "--all-headers" => o.all_headers = true,
            "--no-body" => o.no_body = true,
            "--repeat" => o.repeat = number(value()),
            "--quiet" => o.quiet = true,
            _ => usage(&format!("unknown option {opt}")),
        }
    }
    raw_headers.extend_from_slice(&extra_headers);
    o.headers = raw_headers;
    o
}

fn fail(stage: &str, e: Error) -> ! {
    println!("error: {stage} {} {}", e.code(), e.name());
    exit(1);
}

/// FNV-1a, 64 bits: a dependency-free fingerprint of large bodies.
struct Fnv(u64);

impl Fnv {
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// One request; `buf` is the body read buffer, allocated once for every `--repeat` (zeroing
/// 64 KiB per request would cost the guest more than the request itself).
/// Returns the body's length.
fn fetch_once(o: &Options, buf: &mut [u8]) -> u64 {
    let mut res = Request::new(&o.method, &o.url)
        .headers(&o.headers)
        .body(&o.body)
        .send()
        .unwrap_or_else(|e| fail("req", e));
    if o.quiet {
        return read_quietly(&mut res, buf);
    }
    println!("status: {}", res.status());

    for name in &o.header_names {
        match res.header_string(name) {
            Ok(v) => println!("header {name}: {v}"),
            Err(e) => println!("header {name}: error {} {}", e.code(), e.name()),
        }
    }

    if o.all_headers {
        let block = res.headers_string().unwrap_or_else(|e| fail("headers", e));
        println!("headers:");
        print!("{block}");
        if !block.is_empty() && !block.ends_with('\n') {
            println!();
        }
    }

    if o.no_body {
        return 0;
    }
    let mut body = Vec::new();
    let mut count: u64 = 0;
    let mut fnv = Fnv(0xcbf2_9ce4_8422_2325);
    loop {
        let n = res.read(buf).unwrap_or_else(|e| fail("body", e));
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
            break;
        };
        count += chunk.len() as u64;
        if !o.no_hash {
            fnv.update(chunk);
        }
        if !o.discard {
            body.extend_from_slice(chunk);
        }
    }
    if !o.discard {
        println!("body: {}", String::from_utf8_lossy(&body));
    }
    println!("body-bytes: {count}");
    if !o.no_hash {
        println!("body-fnv: {:016x}", fnv.0);
    }
    count
}

/// Reads the body to its end without printing; returns its length.
fn read_quietly(res: &mut IncomingResponse, buf: &mut [u8]) -> u64 {
    let mut count = 0;
    loop {
        match res.read(buf).unwrap_or_else(|e| fail("body", e)) {
            0 => return count,
            n => count += n as u64,
        }
    }
}

fn main() {
    let o = parse_args();
    let mut buf = vec![0u8; o.buf];
    let mut total = 0;
    for _ in 0..o.repeat {
        total += fetch_once(&o, &mut buf);
    }
    if o.quiet {
        println!("requests: {}", o.repeat);
        println!("body-bytes: {total}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            unescape(r"a:b\r\nc:\x00\xff\\\t").unwrap(),
            b"a:b\r\nc:\0\xff\\\t"
        );
        assert!(unescape(r"\q").is_err());
        assert!(unescape(r"\x4").is_err());
        assert!(unescape("\\").is_err());
    }

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a-64 test vectors.
        let hash = |s: &[u8]| {
            let mut f = Fnv(0xcbf2_9ce4_8422_2325);
            f.update(s);
            f.0
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
