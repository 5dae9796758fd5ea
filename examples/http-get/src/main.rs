//! `http-get URL`: the smallest complete GET written against the original crate's API (the
//! `http` feature): prints the status and the body.

fn main() {
    let url = std::env::args().nth(1).expect("usage: http-get URL");
    let req = http::Request::get(&url)
        .body(None)
        .expect("a valid request");
    let mut res = wasi_experimental_http::request(req).expect("cannot make request");
    println!("{}", res.status_code);
    println!(
        "{}",
        String::from_utf8_lossy(&res.body_read_all().expect("body"))
    );
}
