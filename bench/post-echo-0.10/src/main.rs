//! `post-echo URL`: the same program as `examples/post-echo` (the 0.10 README's example), built
//! against the original crates.io crate `wasi-experimental-http = "=0.10.0"`, so BENCHMARKS.md can
//! compare guest sizes like for like.

use bytes::Bytes;

fn main() {
    let url = std::env::args().nth(1).expect("usage: post-echo URL");
    let req = http::request::Builder::new()
        .method(http::Method::POST)
        .uri(&url)
        .header("Content-Type", "text/plain")
        .header("abc", "def");
    let b = Bytes::from("Testing with a request body. Does this actually work?");
    let mut res =
        wasi_experimental_http::request(req.body(Some(b)).unwrap()).expect("cannot make request");
    let str = std::str::from_utf8(&res.body_read_all().unwrap())
        .unwrap()
        .to_string();
    println!("{:#?}", res.header_get("Content-Type".to_string()));
    println!("{}", str);
    println!("{:#?}", res.status_code);
}
