//! The request serializer: whatever method, URL and header block a guest passes, the bytes the
//! host would send are exactly one well-formed HTTP/1.1 request head (read back with httparse),
//! carrying the guest's fields and the host's own Host and Content-Length, or the call fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasi_experimental_http_host::fuzzing::{encode_request, parse_url};

struct Input {
    method: String,
    url: String,
    headers: String,
    body_len: u16,
}

// Input: two bytes of body length, then method, NUL, URL, NUL, header block.
fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let mut parts = rest.splitn(3, |&c| c == 0);
    let mut text = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let input = Input {
        body_len: u16::from_le_bytes([*a, *b]),
        method: text(),
        url: text(),
        headers: text(),
    };
    let body_len = usize::from(input.body_len);
    let Ok(head) = encode_request(&input.method, &input.url, &input.headers, body_len) else {
        return;
    };
    // Room for every line the guest gave, plus Host and Content-Length.
    let mut fields = vec![httparse::EMPTY_HEADER; input.headers.split('\n').count() + 2];
    let mut req = httparse::Request::new(&mut fields);
    let status = req.parse(&head).expect("the host sends a request httparse accepts");
    assert_eq!(status, httparse::Status::Complete(head.len()), "exactly one head, nothing after");
    assert_eq!(req.method, Some(input.method.as_str()));
    assert_eq!(req.version, Some(1));
    let url = parse_url(&input.url).expect("the URL was accepted");
    assert_eq!(req.path, Some(url.path_and_query.as_str()));
    let named = |n: &str| req.headers.iter().filter(|h| h.name.eq_ignore_ascii_case(n)).count();
    assert_eq!(named("host"), 1);
    assert_eq!(req.headers[0].name, "Host");
    assert!(named("content-length") <= 1);
    // No framing or hop-by-hop field, in any spelling a server might fold `_` into `-` for.
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase().replace('_', "-");
        let owned = ["transfer-encoding", "connection", "upgrade", "te", "trailer", "expect", "keep-alive"];
        assert!(!owned.contains(&name.as_str()) && !name.starts_with("proxy-"), "{}", h.name);
        if name == "host" || name == "content-length" {
            assert!(h.name.eq_ignore_ascii_case(&name), "{} sent", h.name);
        }
    }
    if body_len > 0 {
        let cl = req.headers.iter().find(|h| h.name.eq_ignore_ascii_case("content-length")).unwrap();
        assert_eq!(cl.value, body_len.to_string().as_bytes());
    }
    // Every guest field line that was kept is on the wire, value trimmed, in order.
    let sent: Vec<(String, Vec<u8>)> = req.headers[1..]
        .iter()
        .filter(|h| !h.name.eq_ignore_ascii_case("content-length"))
        .map(|h| (h.name.to_owned(), h.value.to_vec()))
        .collect();
    let given: Vec<(String, Vec<u8>)> = input
        .headers
        .split('\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| !n.eq_ignore_ascii_case("host") && !n.eq_ignore_ascii_case("content-length"))
        .map(|(n, v)| (n.to_owned(), v.trim_matches([' ', '\t']).as_bytes().to_vec()))
        .collect();
    assert_eq!(sent, given);
});
