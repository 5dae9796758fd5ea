//! Body framing (RFC 9112 §6.3) and decoding: Content-Length, chunked (§7.1) and
//! close-delimited bodies.

use super::head::{HeadParser, ResponseHead};
use super::{ParseError, is_field_value_byte, trim_ows};
use crate::config::Limits;

/// The connection ended before the body's framed end (RFC 9112 §8: an incomplete message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Truncated;

/// How the end of a response body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// Decides the body framing of a final response (RFC 9112 §6.3).
pub(crate) fn framing(head: &ResponseHead, request_was_head: bool) -> Result<Framing, ParseError> {
    // §6.3 items 1-2: these never have content, whatever their fields say.
    if request_was_head || head.status < 200 || head.status == 204 || head.status == 304 {
        return Ok(Framing::Empty);
    }
    // Presence of the field counts, even with an empty value: an empty Transfer-Encoding next
    // to a Content-Length is exactly the ambiguity smuggling relies on.
    let has_te = head.values(b"transfer-encoding").next().is_some();
    let codings = head
        .values(b"transfer-encoding")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim_ows)
        .filter(|c| !c.is_empty());
    let content_length = content_length(head)?;
    if has_te && !head.http11 {
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is faulty.
        return Err(ParseError::TransferEncoding);
    }
    if has_te {
        // §6.3 item 3: with both present the message may be a smuggling attempt; we refuse it.
        if content_length.is_some() {
            return Err(ParseError::TransferEncodingAndContentLength);
        }
        // We send no TE header, so the only coding a server may apply is a single `chunked`;
        // `gzip, chunked`, `chunked, chunked` and the like are refused alike.
        let codings: Vec<&[u8]> = codings.collect();
        return match codings.as_slice() {
            [only] if only.eq_ignore_ascii_case(b"chunked") => Ok(Framing::Chunked),
            _ => Err(ParseError::UnsupportedTransferCoding),
        };
    }
    Ok(match content_length {
        Some(n) => Framing::Length(n),
        None => Framing::Close,
    })
}

/// Every Content-Length value must be the same decimal number (§6.3 item 5) that fits in a u64.
/// Leading zeros are allowed however many (`1*DIGIT`, RFC 9110 §8.6); only the value counts.
fn content_length(head: &ResponseHead) -> Result<Option<u64>, ParseError> {
    let mut found: Option<u64> = None;
    for part in head
        .values(b"content-length")
        .flat_map(|v| v.split(|&b| b == b','))
    {
        let digits = trim_ows(part);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::ContentLength);
        }
        let n = digits
            .iter()
            .try_fold(0u64, |acc, d| {
                acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })
            .ok_or(ParseError::ContentLength)?;
        if found.is_some_and(|f| f != n) {
            return Err(ParseError::ContentLength);
        }
        found = Some(n);
    }
    Ok(found)
}

/// Where the chunked decoder is.
#[derive(Debug, Clone)]
pub(crate) enum Chunk {
    /// In a chunk-size line: hex digits so far (saturating), value, whether past the digits,
    /// line length.
    Size {
        digits: u8,
        value: u64,
        after_digits: bool,
        in_ext: bool,
        cr: bool,
        line_len: usize,
    },
    /// In chunk data, this many bytes left.
    Data(u64),
    /// After chunk data: expecting CRLF (`cr` once the CR was seen).
    DataEnd { cr: bool },
    /// In the trailer section, buffered until its end so its limits can be checked.
    Trailers {
        buf: Vec<u8>,
        parser: Box<HeadParser>,
    },
}

/// Decodes body bytes from a connection buffer into the guest's buffer.
#[derive(Debug, Clone)]
pub(crate) enum BodyDecoder {
    /// This many bytes left.
    Length(u64),
    /// Chunked state.
    Chunked(Chunk),
    /// Until EOF.
    Close,
    /// The body ended at its framed end.
    Done,
    /// Decoding failed after some bytes of the same step were produced: those are delivered
    /// first, the error on the next step (`abi.md`, `body_read`: "Failed").
    Failed(ParseError),
}

/// What a decode step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Progress {
    /// Input bytes used.
    pub(crate) consumed: usize,
    /// Output bytes written.
    pub(crate) produced: usize,
}

impl BodyDecoder {
    /// A decoder for this framing.
    pub(crate) fn new(framing: Framing) -> BodyDecoder {
        match framing {
            Framing::Empty | Framing::Length(0) => BodyDecoder::Done,
            Framing::Length(n) => BodyDecoder::Length(n),
            Framing::Chunked => BodyDecoder::Chunked(Chunk::new_size()),
            Framing::Close => BodyDecoder::Close,
        }
    }

    /// Whether the framed end was reached.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self, BodyDecoder::Done)
    }

    /// How many body bytes may be read from the connection straight into the output, bypassing
    /// the connection buffer (the copy-once path). `None` when framing bytes come next.
    pub(crate) fn direct_limit(&self) -> Option<u64> {
        match self {
            BodyDecoder::Length(n) | BodyDecoder::Chunked(Chunk::Data(n)) => Some(*n),
            BodyDecoder::Close => Some(u64::MAX),
            _ => None,
        }
    }

    /// Records `n` body bytes read directly (at most [`Self::direct_limit`]).
    pub(crate) fn advance_direct(&mut self, n: usize) {
        let n = n as u64;
        match self {
            BodyDecoder::Length(left) => {
                *left = left.saturating_sub(n);
                if *left == 0 {
                    *self = BodyDecoder::Done;
                }
            }
            BodyDecoder::Chunked(chunk @ Chunk::Data(_)) => {
                if let Chunk::Data(left) = chunk {
                    *left = left.saturating_sub(n);
                    if *left == 0 {
                        *chunk = Chunk::DataEnd { cr: false };
                    }
                }
            }
            _ => {}
        }
    }

    /// The connection reached EOF. Only a close-delimited body ends there; anything else is
    /// truncated, which is an error, never a silent end (RFC 9112 §8).
    pub(crate) fn eof(&mut self) -> Result<(), Truncated> {
        match self {
            BodyDecoder::Close | BodyDecoder::Done => {
                *self = BodyDecoder::Done;
                Ok(())
            }
            _ => Err(Truncated),
        }
    }

    /// Decodes from `input` into `out` until one of them is used up or the body ends.
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        limits: &Limits,
    ) -> Result<Progress, ParseError> {
        let mut p = Progress::default();
        match self.decode_inner(input, out, limits, &mut p) {
            Err(e) if p.produced > 0 => {
                *self = BodyDecoder::Failed(e);
                Ok(p)
            }
            Err(e) => Err(e),
            Ok(()) => Ok(p),
        }
    }

    fn decode_inner(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        limits: &Limits,
        p: &mut Progress,
    ) -> Result<(), ParseError> {
        loop {
            let rest = input.get(p.consumed..).unwrap_or_default();
            let space = out.get_mut(p.produced..).unwrap_or_default();
            match self {
                BodyDecoder::Done => return Ok(()),
                BodyDecoder::Failed(e) => return Err(*e),
                BodyDecoder::Length(_) | BodyDecoder::Close => {
                    let limit = self.direct_limit().unwrap_or(0);
                    let n = rest.len().min(space.len()).min(clamp(limit));
                    copy(rest, space, n);
                    p.consumed += n;
                    p.produced += n;
                    self.advance_direct(n);
                    return Ok(());
                }
                BodyDecoder::Chunked(chunk) => {
                    if rest.is_empty() {
                        return Ok(());
                    }
                    match chunk {
                        Chunk::Data(left) => {
                            if space.is_empty() {
                                return Ok(());
                            }
                            let n = rest.len().min(space.len()).min(clamp(*left));
                            copy(rest, space, n);
                            p.consumed += n;
                            p.produced += n;
                            self.advance_direct(n);
                        }
                        Chunk::Trailers { buf, parser } => {
                            // Trailers are read, bounded by the header limits, and discarded.
                            let before = buf.len();
                            buf.extend_from_slice(rest);
                            match parser.feed(buf).map_err(|e| match e {
                                ParseError::LineTooLong
                                | ParseError::SectionTooLarge
                                | ParseError::TooManyFields => e,
                                _ => ParseError::Trailer,
                            })? {
                                Some(end) => {
                                    check_trailers(buf.get(..end).unwrap_or_default())?;
                                    p.consumed += end - before;
                                    *self = BodyDecoder::Done;
                                }
                                None => p.consumed += rest.len(),
                            }
                        }
                        _ => {
                            let used = chunk.step_line(rest, limits)?;
                            p.consumed += used;
                        }
                    }
                }
            }
        }
    }
}

fn clamp(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn copy(from: &[u8], to: &mut [u8], n: usize) {
    if let (Some(src), Some(dst)) = (from.get(..n), to.get_mut(..n)) {
        dst.copy_from_slice(src);
    }
}

/// Trailer field lines must at least be well-formed field lines (RFC 9112 §7.1.2).
fn check_trailers(section: &[u8]) -> Result<(), ParseError> {
    for line in super::head::split_lines(section).map_err(|_| ParseError::Trailer)? {
        if line.is_empty() {
            break;
        }
        super::head::parse_field_line(line).map_err(|_| ParseError::Trailer)?;
    }
    Ok(())
}

impl Chunk {
    fn new_size() -> Chunk {
        Chunk::Size {
            digits: 0,
            value: 0,
            after_digits: false,
            in_ext: false,
            cr: false,
            line_len: 0,
        }
    }

    /// Consumes framing bytes (chunk-size line, CRLF after data) one at a time; returns how many
    /// were used. Stops when the state changes to data or trailers.
    fn step_line(&mut self, input: &[u8], limits: &Limits) -> Result<usize, ParseError> {
        for (i, &b) in input.iter().enumerate() {
            match self {
                Chunk::DataEnd { cr } => match (b, *cr) {
                    (b'\r', false) => *cr = true,
                    (b'\n', _) => {
                        *self = Chunk::new_size();
                        return Ok(i + 1);
                    }
                    _ => return Err(ParseError::ChunkDataEnd),
                },
                Chunk::Size {
                    digits,
                    value,
                    after_digits,
                    in_ext,
                    cr,
                    line_len,
                } => {
                    // The limit is on the line without its CRLF (abi.md, "Responses").
                    if b != b'\r' && b != b'\n' {
                        *line_len += 1;
                    }
                    if *line_len > limits.max_chunk_line {
                        return Err(ParseError::ChunkLineTooLong);
                    }
                    if *cr && b != b'\n' {
                        return Err(ParseError::ChunkSize);
                    }
                    match b {
                        b'\n' => {
                            if *digits == 0 {
                                return Err(ParseError::ChunkSize);
                            }
                            *self = if *value == 0 {
                                Chunk::Trailers {
                                    buf: Vec::new(),
                                    parser: Box::new(HeadParser::trailers(limits)),
                                }
                            } else {
                                Chunk::Data(*value)
                            };
                            return Ok(i + 1);
                        }
                        b'\r' => *cr = true,
                        _ if *in_ext => {
                            if !is_field_value_byte(b) {
                                return Err(ParseError::ChunkSize);
                            }
                        }
                        // chunk-size = 1*HEXDIG. Leading zeros count for nothing; a value
                        // that would need more than 16 significant digits overflows a u64.
                        _ if b.is_ascii_hexdigit() && !*after_digits => {
                            if *value > u64::MAX >> 4 {
                                return Err(ParseError::ChunkSize);
                            }
                            *digits = digits.saturating_add(1);
                            let d = (b as char).to_digit(16).unwrap_or(0);
                            *value = (*value << 4) | u64::from(d);
                        }
                        // BWS before `;` (RFC 9112 §7.1.1).
                        b' ' | b'\t' if *digits > 0 => *after_digits = true,
                        b';' if *digits > 0 => *in_ext = true,
                        _ => return Err(ParseError::ChunkSize),
                    }
                }
                _ => return Ok(i),
            }
        }
        Ok(input.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::parse_head;

    fn decode_all(
        framing: Framing,
        input: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, bool), ParseError> {
        let limits = Limits::default();
        let mut d = BodyDecoder::new(framing);
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        let mut pos = 0;
        while pos < input.len() && !d.is_done() {
            let end = (pos + step).min(input.len());
            let p = d.decode(&input[pos..end], &mut buf, &limits)?;
            out.extend_from_slice(&buf[..p.produced]);
            pos += p.consumed;
        }
        Ok((out, d.is_done()))
    }

    const CHUNKED: &[u8] =
        b"5;ext=1;q=\"x\"\r\nhello\r\n7 ; e\r\n, world\r\n0\r\nTrailer-A: 1\r\nB: 2\r\n\r\n";

    /// RFC 9112 §7.1: chunk extensions and trailer fields are accepted and not part of the body.
    #[test]
    fn chunked_with_extensions_and_trailers() {
        for step in [1, 2, 3, 5, 100] {
            let (body, done) = decode_all(Framing::Chunked, CHUNKED, step).unwrap();
            assert_eq!(body, b"hello, world", "step {step}");
            assert!(done);
        }
    }

    /// A chunked body that stops anywhere before its last-chunk and trailers is not done.
    #[test]
    fn every_truncation_of_chunked_is_incomplete() {
        for n in 0..CHUNKED.len() {
            let (_, done) = decode_all(Framing::Chunked, &CHUNKED[..n], 3).unwrap();
            assert!(!done, "prefix {n}");
            let mut d = BodyDecoder::new(Framing::Chunked);
            let mut out = [0u8; 64];
            d.decode(&CHUNKED[..n], &mut out, &Limits::default())
                .unwrap();
            assert_eq!(d.eof(), Err(Truncated), "prefix {n}");
        }
    }

    /// One row per chunked-coding rule (RFC 9112 §7.1), with the exact error.
    #[test]
    fn malformed_chunk_table() {
        use ParseError::*;
        let cases: &[(&[u8], ParseError, &str)] = &[
            (b"x\r\n", ChunkSize, "§7.1: chunk-size = 1*HEXDIG"),
            (b"\r\n", ChunkSize, "§7.1: chunk-size is not empty"),
            (b" 5\r\n", ChunkSize, "§7.1: no whitespace before the size"),
            (b"5\rx", ChunkSize, "§7.1: CR must be followed by LF"),
            (
                b"11111111111111111\r\n",
                ChunkSize,
                "§7.1: a size that overflows 64 bits",
            ),
            (
                b"0000010000000000000000\r\n",
                ChunkSize,
                "§7.1: leading zeros do not hide an overflow",
            ),
            (b"5;a\x01\r\n", ChunkSize, "§7.1.1: chunk-ext bytes"),
            (
                b"5\r\nhelloXX",
                ChunkDataEnd,
                "§7.1: chunk-data is followed by CRLF",
            ),
            (
                b"0\r\nbad trailer\r\n\r\n",
                Trailer,
                "§7.1.2: trailer fields are field lines",
            ),
        ];
        for (input, want, rule) in cases {
            assert_eq!(
                decode_all(Framing::Chunked, input, 4),
                Err(*want),
                "{rule}: {:?}",
                String::from_utf8_lossy(input)
            );
        }
        let l = Limits {
            max_chunk_line: 8,
            ..Limits::default()
        };
        let mut d = BodyDecoder::new(Framing::Chunked);
        assert_eq!(
            d.decode(b"5;aaaaaaaaaaaa", &mut [0; 8], &l),
            Err(ParseError::ChunkLineTooLong),
            "the chunk-line limit applies to partial input"
        );
    }

    /// RFC 9112 §7.1: chunk-size = 1*HEXDIG, however many leading zeros; what counts is that the
    /// value fits in 64 bits. Each row: input, the body decoded, whether the framed end was reached.
    #[test]
    fn accepted_chunk_size_table() {
        let cases: &[(&[u8], &[u8], bool, &str)] = &[
            (
                b"00000000000000001\r\nx\r\n0\r\n\r\n",
                b"x",
                true,
                "17 digits, one significant",
            ),
            (
                b"0000000000000000000000000003\r\nabc\r\n00000000000000000\r\n\r\n",
                b"abc",
                true,
                "leading zeros in data and last-chunk sizes",
            ),
            (b"0\r\n\r\n", b"", true, "last-chunk"),
        ];
        for (input, body, done, rule) in cases {
            for step in [1, 4, 100] {
                assert_eq!(
                    decode_all(Framing::Chunked, input, step),
                    Ok((body.to_vec(), *done)),
                    "{rule}, step {step}"
                );
            }
        }
        // The largest size, behind zeros: the decoder expects u64::MAX bytes of data.
        let mut d = BodyDecoder::new(Framing::Chunked);
        let input = b"0000ffffffffffffffff\r\n";
        let p = d.decode(input, &mut [0; 8], &Limits::default()).unwrap();
        assert_eq!(p.consumed, input.len());
        assert_eq!(d.direct_limit(), Some(u64::MAX));
    }

    /// RFC 9110 §8.6: Content-Length = 1*DIGIT; leading zeros are allowed, the value must fit in
    /// 64 bits (RFC 9112 §6.3 rule 5). Each row: the field value, the framing decided.
    #[test]
    fn content_length_table() {
        let cases: &[(&str, Result<Framing, ParseError>, &str)] = &[
            ("5", Ok(Framing::Length(5)), "plain"),
            (
                "00000000000000000005",
                Ok(Framing::Length(5)),
                "20 digits, one significant",
            ),
            ("0", Ok(Framing::Length(0)), "zero"),
            (
                "0000000000000000000000",
                Ok(Framing::Length(0)),
                "all zeros",
            ),
            (
                "18446744073709551615",
                Ok(Framing::Length(u64::MAX)),
                "u64::MAX",
            ),
            (
                "000018446744073709551615",
                Ok(Framing::Length(u64::MAX)),
                "u64::MAX behind zeros",
            ),
            (
                "005, 5",
                Ok(Framing::Length(5)),
                "equal values, spelled differently",
            ),
            (
                "18446744073709551616",
                Err(ParseError::ContentLength),
                "u64::MAX + 1",
            ),
            (
                "000018446744073709551616",
                Err(ParseError::ContentLength),
                "overflow behind zeros",
            ),
            (
                "99999999999999999999",
                Err(ParseError::ContentLength),
                "20 digits, overflow",
            ),
            ("05, 6", Err(ParseError::ContentLength), "differing values"),
            ("+5", Err(ParseError::ContentLength), "not 1*DIGIT"),
        ];
        for (value, want, rule) in cases {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\n");
            assert_eq!(fr(head.as_bytes(), false), *want, "{rule}: {value:?}");
        }
    }

    /// Bytes produced before an error in the same step are delivered first; the error comes
    /// on the next step (`abi.md`, `body_read`).
    #[test]
    fn error_after_data_is_reported_on_the_next_step() {
        let mut d = BodyDecoder::new(Framing::Chunked);
        let mut out = [0u8; 16];
        let p = d
            .decode(b"3\r\nabcXY", &mut out, &Limits::default())
            .unwrap();
        assert_eq!(&out[..p.produced], b"abc");
        assert_eq!(
            d.decode(b"", &mut out, &Limits::default()),
            Err(ParseError::ChunkDataEnd)
        );
    }

    #[test]
    fn content_length_body_stops_at_length() {
        let (body, done) = decode_all(Framing::Length(5), b"hello", 2).unwrap();
        assert_eq!(body, b"hello");
        assert!(done);
        let mut d = BodyDecoder::new(Framing::Length(5));
        d.decode(b"hel", &mut [0; 8], &Limits::default()).unwrap();
        assert_eq!(
            d.eof(),
            Err(Truncated),
            "a short Content-Length body is truncated"
        );
        let mut d = BodyDecoder::new(Framing::Close);
        d.decode(b"hel", &mut [0; 8], &Limits::default()).unwrap();
        assert_eq!(
            d.eof(),
            Ok(()),
            "RFC 9112 §6.3 item 8: EOF ends a close-delimited body"
        );
    }

    fn fr(head: &[u8], is_head: bool) -> Result<Framing, ParseError> {
        framing(&parse_head(head).unwrap(), is_head)
    }

    /// RFC 9112 §6.3.
    #[test]
    fn framing_rules() {
        assert_eq!(
            fr(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            fr(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true),
            Ok(Framing::Empty)
        );
        assert_eq!(
            fr(b"HTTP/1.1 204 OK\r\nContent-Length: 5\r\n\r\n", false),
            Ok(Framing::Empty)
        );
        assert_eq!(fr(b"HTTP/1.1 304 OK\r\n\r\n", false), Ok(Framing::Empty));
        assert_eq!(fr(b"HTTP/1.1 200 OK\r\n\r\n", false), Ok(Framing::Close));
        assert_eq!(
            fr(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n",
                false
            ),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            fr(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
                false
            ),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            fr(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                false
            ),
            Err(ParseError::ContentLength)
        );
        assert_eq!(
            fr(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false),
            Err(ParseError::ContentLength)
        );
        assert_eq!(
            fr(
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                false
            ),
            Err(ParseError::ContentLength)
        );
        assert_eq!(
            fr(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                false
            ),
            Err(ParseError::TransferEncodingAndContentLength)
        );
        assert_eq!(
            fr(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                false
            ),
            Err(ParseError::UnsupportedTransferCoding)
        );
        assert_eq!(
            fr(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false),
            Err(ParseError::UnsupportedTransferCoding)
        );
        assert_eq!(
            fr(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                false
            ),
            Err(ParseError::UnsupportedTransferCoding)
        );
        assert_eq!(fr(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", false), Err(ParseError::UnsupportedTransferCoding));
        assert_eq!(
            fr(
                b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                false
            ),
            Err(ParseError::TransferEncoding)
        );
    }
}
