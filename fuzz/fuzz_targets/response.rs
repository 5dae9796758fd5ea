//! The response head parser and body decoder, fed arbitrary bytes in arbitrary pieces.
//! Differential: the same bytes arriving in other pieces give the same head, the same body
//! bytes, the same error and the same end state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasi_experimental_http_host::fuzzing::decode_response;

// Input: [out_len, k, k piece sizes..., response bytes...], so seeds are readable responses
// behind a two-byte prefix.
fuzz_target!(|data: &[u8]| {
    let [out_len, k, rest @ ..] = data else {
        return;
    };
    let k = usize::from(*k).min(rest.len());
    let (pieces, bytes) = rest.split_at(k);
    let pieces: Vec<usize> = pieces.iter().map(|&p| usize::from(p)).collect();
    let whole = decode_response(bytes, &[], usize::from(*out_len));
    let split = decode_response(bytes, &pieces, usize::from(*out_len));
    let bytewise = decode_response(bytes, &vec![1; bytes.len()], 7);
    assert_eq!(whole, split, "pieces {pieces:?}");
    assert_eq!(whole, bytewise, "one byte at a time");
    // The body never holds more than the input had.
    assert!(whole.body.len() <= bytes.len());
    // A response read to its end is no longer complete with its last byte missing: truncation
    // is never a clean end (RFC 9112 §8), unless the end was EOF (close-delimited).
    if whole.complete && !bytes.is_empty() {
        let cut = decode_response(&bytes[..bytes.len() - 1], &[], usize::from(*out_len));
        let close_delimited = cut.complete && cut.body.len() + 1 == whole.body.len();
        assert!(
            cut.code != 0 || close_delimited || cut == whole,
            "the response without its last byte: {cut:?}"
        );
    }
});
