//! `multi URL N`: opens N responses before reading any (all handles alive at once), reads each
//! to the end, closes them all, then opens one more: that last request succeeds only if closing
//! freed the host's slots.
//!
//! Output: `open <i>: status <n>` or `open <i>: error <code> <name>` (i from 0); then
//! `read <i>: <bytes> bytes` or `read <i>: error <code> <name>` for each opened response;
//! then `after-close: status <n>` (exit 0) or `after-close: error <code> <name>` (exit 1).
//! Bad arguments exit with 2.

use std::process::exit;

use wasi_experimental_http::{Error, IncomingResponse, Request};

fn describe(e: Error) -> String {
    format!("error {} {}", e.code(), e.name())
}

/// Reads `res` to the end and returns the body length.
fn drain(res: &mut IncomingResponse) -> Result<u64, Error> {
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        match res.read(&mut buf)? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(Ok(n))) = (args.get(1), args.get(2).map(|n| n.parse::<usize>())) else {
        eprintln!("usage: multi URL N");
        exit(2);
    };

    let mut open: Vec<(usize, IncomingResponse)> = Vec::new();
    for i in 0..n {
        match Request::get(url).send() {
            Ok(res) => {
                println!("open {i}: status {}", res.status());
                open.push((i, res));
            }
            Err(e) => println!("open {i}: {}", describe(e)),
        }
    }

    for (i, res) in &mut open {
        match drain(res) {
            Ok(bytes) => println!("read {i}: {bytes} bytes"),
            Err(e) => println!("read {i}: {}", describe(e)),
        }
    }
    drop(open);

    match Request::get(url).send() {
        Ok(res) => println!("after-close: status {}", res.status()),
        Err(e) => {
            println!("after-close: {}", describe(e));
            exit(1);
        }
    }
}
