//! HTTP/1.1, sans-IO: request serialization, the response head parser and body decoding.
//! Nothing here touches a socket, a clock or the ABI; everything takes bytes and says how many
//! it used, and failures are this module's own grammar-named errors ([`ParseError`] for what a
//! server sent, [`RequestError`] for what a guest asked to send). `crate::error` maps them to
//! ABI codes. RFC 9112 is the reference; each rule's test names the section it comes from.

mod body;
mod head;
mod request;

pub(crate) use body::{BodyDecoder, Framing, Truncated, framing};
pub(crate) use head::{HeadParser, InvalidFieldName, ResponseHead, StatusClass, parse_head};
#[cfg(feature = "fuzzing")]
pub(crate) use request::encode_request_head;
pub(crate) use request::{
    HostField, RequestError, RequestHead, RequestParts, block_names, is_idempotent,
    validate_injected_field, validate_method,
};

/// A protocol violation or exceeded limit in a response, named after the grammar element that
/// failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// The status line is not `HTTP/1.x SP 3DIGIT [SP reason]`.
    StatusLine,
    /// The status code is three digits outside 100–599 (RFC 9110 §15: invalid).
    StatusCode,
    /// A field name is empty or not a token (this includes whitespace before the colon).
    FieldName,
    /// A field value contains a control character.
    FieldValue,
    /// A field line starts with whitespace (obsolete line folding, RFC 9112 §5.2).
    ObsFold,
    /// A CR not followed by LF.
    BareCr,
    /// The status line or a field line is longer than the limit.
    LineTooLong,
    /// The header or trailer section is larger than the limit.
    SectionTooLarge,
    /// More fields than the limit.
    TooManyFields,
    /// `Content-Length` is not a number, or several differ.
    ContentLength,
    /// `Transfer-Encoding` is anything but the single coding `chunked`.
    UnsupportedTransferCoding,
    /// `Transfer-Encoding` in an HTTP/1.0 response (RFC 9112 §6.1: faulty framing).
    TransferEncoding,
    /// Both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.3 item 3: treated as error).
    TransferEncodingAndContentLength,
    /// A chunk-size line is malformed.
    ChunkSize,
    /// A chunk-size line is longer than the limit.
    ChunkLineTooLong,
    /// Chunk data is not followed by CRLF.
    ChunkDataEnd,
    /// A trailer field line is malformed.
    Trailer,
    /// `101 Switching Protocols`: the host never asks to upgrade.
    SwitchingProtocols,
    /// More interim (1xx) responses than we are willing to skip.
    TooManyInterimResponses,
}

/// `tchar` of RFC 9110 §5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    // A table: every byte of every received field name goes through this.
    TCHAR.get(usize::from(b)).copied().unwrap_or(false)
}

/// [`is_tchar`] for each byte value.
#[allow(
    clippy::indexing_slicing,
    reason = "a const block cannot call get_mut; the loop keeps the index below 256"
)]
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// A field value byte we accept: anything but controls, HTAB excepted (RFC 9110 §5.5).
pub(crate) fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// Removes leading and trailing SP / HTAB (OWS).
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod robustness {
    //! Hostile-input smoke test: arbitrary bytes through every parser entry point must give a
    //! result or an error, never a panic, and never more output than buffer space.
    use super::*;
    use crate::config::Limits;

    /// xorshift64*: deterministic, dependency-free pseudo-random bytes.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn bytes(&mut self, alphabet: &[u8], len: usize) -> Vec<u8> {
            (0..len)
                .map(|_| {
                    let i = (self.next() % alphabet.len() as u64) as usize;
                    alphabet.get(i).copied().unwrap_or(b'x')
                })
                .collect()
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // Mostly protocol-significant bytes, so the fuzz reaches deep states quickly.
        let alphabet = b"HTTP/1.0 2\r\n:;=\t 0123456789abcdefxX\x00\x7f\xffchunked";
        let limits = Limits {
            max_header_line: 64,
            max_header_section: 256,
            max_header_count: 8,
            max_chunk_line: 32,
            ..Limits::default()
        };
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..20_000 {
            let len = (rng.next() % 300) as usize;
            let mut input = rng.bytes(alphabet, len);
            if round % 2 == 0 {
                let mut valid = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                valid.extend_from_slice(&input);
                input = valid;
            }
            let mut parser = HeadParser::response(&limits);
            let Ok(Some(end)) = parser.feed(&input) else {
                continue;
            };
            let Ok(head) = parse_head(input.get(..end).unwrap_or_default()) else {
                continue;
            };
            let Ok(framing) = framing(&head, false) else {
                continue;
            };
            let mut decoder = BodyDecoder::new(framing);
            let mut rest = input.get(end..).unwrap_or_default();
            let mut out = [0u8; 5];
            while !rest.is_empty() {
                match decoder.decode(rest, &mut out, &limits) {
                    Ok(p) => {
                        assert!(p.produced <= out.len() && p.consumed <= rest.len());
                        if p.consumed == 0 && p.produced == 0 {
                            break;
                        }
                        rest = rest.get(p.consumed..).unwrap_or_default();
                    }
                    Err(_) => break,
                }
            }
        }
    }
}
