//! The benchmark's guest workload through wasi:http (a `wasm32-wasip2` command component).
//!
//! - `requests URL N`: N sequential GETs of URL; each status must be 200 and each body is read
//!   to the end.
//! - `stream URL BYTES BUF`: one GET whose body is read with reads of at most BUF bytes, the
//!   total checked to be BYTES.
//!
//! Nothing is printed on success; a failure is one line on stderr and exit code 1.

use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, IncomingResponse, OutgoingRequest, Scheme};
use wasi::io::streams::StreamError;

/// Bytes asked for per read while draining a small body.
const SMALL_READ: u64 = 64 * 1024;

fn main() {
    if let Err(e) = run() {
        eprintln!("guest: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).ok_or("missing argument");
    let number = |i: usize| -> Result<u64, String> {
        arg(i)?
            .parse::<u64>()
            .map_err(|e| format!("argument {i}: {e}"))
    };
    match arg(0)? {
        "requests" => {
            let url = Url::parse(arg(1)?)?;
            for _ in 0..number(2)? {
                let response = get(&url)?;
                read_to_end(&response, SMALL_READ)?;
            }
            Ok(())
        }
        "stream" => {
            let url = Url::parse(arg(1)?)?;
            let (bytes, buf) = (number(2)?, number(3)?);
            if buf == 0 {
                return Err("BUF must be at least 1".into());
            }
            let response = get(&url)?;
            let total = read_to_end(&response, buf)?;
            if total != bytes {
                return Err(format!("read {total} bytes, expected {bytes}"));
            }
            Ok(())
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

/// A URL split into what `outgoing-request` takes.
struct Url<'a> {
    scheme: Scheme,
    authority: &'a str,
    path_with_query: &'a str,
}

impl<'a> Url<'a> {
    fn parse(url: &'a str) -> Result<Url<'a>, String> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else {
            return Err(format!("not an http(s) URL: {url}"));
        };
        let (authority, path_with_query) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        Ok(Url {
            scheme,
            authority,
            path_with_query,
        })
    }
}

/// Sends a GET and waits for its response head; the status must be 200.
fn get(url: &Url<'_>) -> Result<IncomingResponse, String> {
    let request = OutgoingRequest::new(Fields::new());
    request
        .set_scheme(Some(&url.scheme))
        .and_then(|()| request.set_authority(Some(url.authority)))
        .and_then(|()| request.set_path_with_query(Some(url.path_with_query)))
        .map_err(|()| "invalid URL parts".to_string())?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("handle: {e}"))?;
    let response = loop {
        match pending.get() {
            Some(result) => break result,
            None => pending.subscribe().block(),
        }
    };
    let response = response
        .map_err(|()| "response taken twice".to_string())?
        .map_err(|e| format!("request failed: {e}"))?;
    match response.status() {
        200 => Ok(response),
        status => Err(format!("status {status}")),
    }
}

/// Reads the body to its end with reads of at most `buf` bytes; returns its length.
fn read_to_end(response: &IncomingResponse, buf: u64) -> Result<u64, String> {
    let body = response
        .consume()
        .map_err(|()| "body taken twice".to_string())?;
    let stream = body
        .stream()
        .map_err(|()| "body stream taken twice".to_string())?;
    let mut total = 0u64;
    loop {
        match stream.blocking_read(buf) {
            Ok(chunk) => total += chunk.len() as u64,
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(format!("body read: {}", e.to_debug_string()));
            }
        }
    }
    // The stream is a child of the body: it goes first.
    drop(stream);
    drop(body);
    Ok(total)
}
