//! The URL parser, the allow-list and the address policy. Invariants: an admitted URL re-parses
//! to the same origin; an admitted origin matches an allow entry and no deny entry (checked
//! against one-entry lists); no numeric-looking host is a name (it would reach the resolver,
//! which reads `127.1` or `0x7f.1` as an address); IPv4-mapped IPv6 addresses get the IPv4
//! address's decision.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use wasi_experimental_http_host::fuzzing::{allow_list, parse_url, public_only_permits};

const ALLOW: &[&str] = &[
    "https://*.example.com",
    "http://example.com:8080",
    "https://[::1]",
    "http://127.0.0.1:1",
    "http://localhost",
];
const DENY: &[&str] = &["!https://admin.example.com", "!http://example.com:8080"];

struct Input {
    url: String,
    entry: String,
    v4: [u8; 4],
}

// Input: URL, NUL, allow entry, NUL, then 4 bytes of an IPv4 address.
fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let url = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let entry = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let mut v4 = [0u8; 4];
    for (d, s) in v4.iter_mut().zip(parts.next().unwrap_or_default()) {
        *d = *s;
    }
    let input = Input { url, entry, v4 };
    if let Some(u) = parse_url(&input.url) {
        // Re-parsing the normalized form gives the same origin and target.
        let again = format!("{}://{}:{}{}", u.scheme, u.host, u.port, u.path_and_query);
        let v = parse_url(&again).expect("a normalized URL parses");
        assert_eq!((v.scheme, &v.host, v.port), (u.scheme, &u.host, u.port), "{again}");
        assert_eq!(v.path_and_query, u.path_and_query);
        if u.is_name {
            let last = u.host.rsplit('.').next().unwrap_or(&u.host);
            assert!(!last.is_empty() && !last.bytes().all(|b| b.is_ascii_digit()), "{}", u.host);
            assert!(
                !(last.len() > 2 && last[..2].eq_ignore_ascii_case("0x")
                    && last[2..].bytes().all(|b| b.is_ascii_hexdigit())),
                "{}",
                u.host
            );
        }
        // The combined list admits exactly when some allow entry does and no deny entry does.
        let mut all: Vec<&str> = ALLOW.to_vec();
        all.extend_from_slice(DENY);
        let list = allow_list(&all).unwrap();
        let admitted = list.admits(&input.url).unwrap();
        let by_allow = ALLOW
            .iter()
            .any(|e| allow_list(&[e]).unwrap().admits(&input.url).unwrap());
        let by_deny = DENY.iter().any(|e| {
            allow_list(&[&e[1..]]).unwrap().admits(&input.url).unwrap()
        });
        assert_eq!(admitted, by_allow && !by_deny, "{}", input.url);
    }
    // An arbitrary entry either is a configuration error or admits its own origin.
    if let Some(list) = allow_list(&[input.entry.as_str()]) {
        if !input.entry.starts_with('!') && !input.entry.contains('*') && input.entry != "insecure:allow-all" {
            let url = format!("{}/", input.entry.trim_end_matches('/'));
            assert_eq!(list.admits(&url), Some(true), "{url}");
        }
    }
    let v4 = Ipv4Addr::from(input.v4);
    assert_eq!(
        public_only_permits(IpAddr::V4(v4)),
        public_only_permits(IpAddr::V6(v4.to_ipv6_mapped())),
        "{v4}"
    );
    let _ = Ipv6Addr::LOCALHOST;
});
