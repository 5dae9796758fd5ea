//! The response head parser and body decoder, fed arbitrary bytes in arbitrary pieces.
//! Differential: the same bytes arriving in other pieces give the same head, the same body
//! bytes, the same error and the same end state.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasi_experimental_http_wasmtime::fuzzing::decode_response;

#[derive(Arbitrary, Debug)]
struct Input {
    pieces: Vec<u8>,
    out_len: u8,
    bytes: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let pieces: Vec<usize> = input.pieces.iter().map(|&p| usize::from(p)).collect();
    let whole = decode_response(&input.bytes, &[], usize::from(input.out_len));
    let split = decode_response(&input.bytes, &pieces, usize::from(input.out_len));
    let bytewise = decode_response(&input.bytes, &vec![1; input.bytes.len()], 7);
    assert_eq!(whole, split, "pieces {pieces:?}");
    assert_eq!(whole, bytewise, "one byte at a time");
    // The body never holds more than the input had.
    assert!(whole.body.len() <= input.bytes.len());
    if whole.code == 0 {
        assert!(whole.complete && whole.head.is_some());
    }
});
