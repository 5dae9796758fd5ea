//! The header block: the ABI's text form of a header list, `name:value` lines separated by
//! `\n`.
//!
//! Requests carry one (built here by [`HeaderBlock`] without allocating), and
//! `headers_get_all` returns one (split here by [`header_lines`]).
//!
//! The host parses request blocks with its own code (`encode_request_head` in
//! `host/src/http1/request.rs`). The two stay separate on purpose: this crate is `no_std` wasm
//! and the host crate a native library, and neither may depend on the other. abi.md, "Header
//! blocks", is the grammar both follow; `tests/tests/header_block.rs` feeds what this encoder
//! builds (and what it refuses) to the host and checks that they agree.

use crate::Error;

/// Whether `b` is a `tchar` (RFC 9110 §5.6.2), the only bytes allowed in a field name.
const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Whether `name` is a valid field name: a non-empty token (RFC 9110 §5.1).
pub(crate) fn is_valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| is_tchar(b))
}

/// Whether `value` may appear in a header block: no CR, LF, NUL or other control byte except
/// HTAB (RFC 9110 §5.5 forbids them in field values; a `\n` would also split the line).
pub(crate) fn is_valid_value(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Trims optional whitespace (SP / HTAB) on both ends, as the host does with values.
fn trim_ows(mut s: &str) -> &str {
    s = s.trim_start_matches([' ', '\t']);
    s.trim_end_matches([' ', '\t'])
}

/// A header block being written into a caller-provided buffer.
///
/// Each [`add`](HeaderBlock::add) validates the field and appends `name:value\n`; a failed
/// `add` leaves the block unchanged.
///
/// ```
/// use wasi_experimental_http::{Error, HeaderBlock};
///
/// let mut buf = [0u8; 64];
/// let mut block = HeaderBlock::new(&mut buf);
/// block.add("Content-Type", "text/plain")?.add("abc", "def")?;
/// assert_eq!(block.as_bytes(), b"Content-Type:text/plain\nabc:def\n");
/// assert_eq!(block.add("bad name", "x").err(), Some(Error::InvalidEncoding));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug)]
pub struct HeaderBlock<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> HeaderBlock<'b> {
    /// An empty block that will be written into `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        HeaderBlock { buf, len: 0 }
    }

    /// Appends `name:value\n`.
    ///
    /// # Errors
    /// [`Error::InvalidEncoding`] if `name` is not a token or `value` contains a control
    /// character other than HTAB (the host would refuse the block with the same code);
    /// [`Error::BufferTooSmall`] if the line does not fit in what is left of the buffer.
    pub fn add(&mut self, name: &str, value: &str) -> Result<&mut Self, Error> {
        let (name, value) = (name.as_bytes(), value.as_bytes());
        if !is_valid_name(name) || !is_valid_value(value) {
            return Err(Error::InvalidEncoding);
        }
        let rest = self.buf.get_mut(self.len..).ok_or(Error::BufferTooSmall)?;
        // Saturating: a length that overflows cannot fit in any buffer either.
        let line_len = name.len().saturating_add(value.len()).saturating_add(2);
        let line = rest.get_mut(..line_len).ok_or(Error::BufferTooSmall)?;
        let (name_part, after) = line.split_at_mut(name.len());
        name_part.copy_from_slice(name);
        let (colon, after) = after.split_at_mut(1);
        colon.copy_from_slice(b":");
        let (value_part, newline) = after.split_at_mut(value.len());
        value_part.copy_from_slice(value);
        newline.copy_from_slice(b"\n");
        self.len += line_len;
        Ok(self)
    }

    /// The block written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// The number of bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no field has been added.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Splits one `name:value` line into its name and its value (OWS-trimmed).
///
/// # Errors
/// [`Error::InvalidEncoding`] without a `:`, with a name that is not a token, or with a
/// control character in the value.
pub(crate) fn split_header_line(line: &str) -> Result<(&str, &str), Error> {
    let (name, value) = line.split_once(':').ok_or(Error::InvalidEncoding)?;
    if !is_valid_name(name.as_bytes()) || !is_valid_value(value.as_bytes()) {
        return Err(Error::InvalidEncoding);
    }
    Ok((name, trim_ows(value)))
}

/// Iterates over the `(name, value)` fields of a header block, such as the one
/// [`IncomingResponse::headers`](crate::IncomingResponse::headers) returns.
///
/// Empty lines are skipped. A line that is not valid UTF-8 yields [`Error::Utf8Error`], a
/// malformed one (no `:`, a name that is not a token, a control character other than HTAB in
/// the value) [`Error::InvalidEncoding`]; iteration goes on with the next line. Values are
/// trimmed of spaces and tabs.
///
/// ```
/// use wasi_experimental_http::header_lines;
///
/// let mut it = header_lines(b"content-type:text/plain\nx-a: 1 \n");
/// assert_eq!(it.next(), Some(Ok(("content-type", "text/plain"))));
/// assert_eq!(it.next(), Some(Ok(("x-a", "1"))));
/// assert_eq!(it.next(), None);
/// ```
pub fn header_lines(block: &[u8]) -> HeaderLines<'_> {
    HeaderLines { rest: block }
}

/// The iterator returned by [`header_lines`].
#[derive(Debug, Clone)]
pub struct HeaderLines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for HeaderLines<'a> {
    type Item = Result<(&'a str, &'a str), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (line, rest) = match self.rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (line, rest) = self.rest.split_at(i);
                    (line, rest.get(1..).unwrap_or_default())
                }
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            if line.is_empty() {
                continue;
            }
            return Some(
                core::str::from_utf8(line)
                    .map_err(|_| Error::Utf8Error)
                    .and_then(split_header_line),
            );
        }
    }
}

impl core::iter::FusedIterator for HeaderLines<'_> {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;
    use std::vec::Vec;

    #[test]
    fn builds_lines_in_order() {
        let mut buf = [0u8; 40];
        let mut b = HeaderBlock::new(&mut buf);
        assert!(b.is_empty());
        b.add("a", "1").unwrap().add("X-Y", "two words").unwrap();
        assert_eq!(b.as_bytes(), b"a:1\nX-Y:two words\n");
        assert_eq!(b.len(), 18);
    }

    #[test]
    fn refuses_bad_fields_without_writing() {
        let mut buf = [0u8; 40];
        let mut b = HeaderBlock::new(&mut buf);
        for (name, value) in [
            ("", "v"),
            ("a b", "v"),
            ("a:b", "v"),
            ("é", "v"),
            ("a", "v\r\nInjected: yes"),
            ("a", "v\nb:c"),
            ("a", "nul\0"),
            ("a", "del\x7f"),
        ] {
            assert_eq!(
                b.add(name, value).err(),
                Some(Error::InvalidEncoding),
                "{name:?}"
            );
        }
        assert!(b.is_empty());
        // HTAB and non-ASCII UTF-8 are allowed in values.
        b.add("a", "tab\there é").unwrap();
        assert_eq!(b.as_bytes(), "a:tab\there é\n".as_bytes());
    }

    #[test]
    fn a_line_that_does_not_fit_is_not_written() {
        let mut buf = [0u8; 8];
        let mut b = HeaderBlock::new(&mut buf);
        b.add("a", "123").unwrap(); // 6 bytes
        assert_eq!(b.add("b", "").err(), Some(Error::BufferTooSmall)); // needs 3, 2 left
        assert_eq!(b.add("b", "1").err(), Some(Error::BufferTooSmall));
        assert_eq!(b.as_bytes(), b"a:123\n");
        let mut exact = [0u8; 4];
        let mut b = HeaderBlock::new(&mut exact);
        b.add("b", "1").unwrap();
        assert_eq!(b.as_bytes(), b"b:1\n");
        let mut none: [u8; 0] = [];
        assert_eq!(
            HeaderBlock::new(&mut none).add("b", "").err(),
            Some(Error::BufferTooSmall)
        );
    }

    #[test]
    fn decodes_what_it_encodes() {
        let mut buf = [0u8; 64];
        let mut b = HeaderBlock::new(&mut buf);
        b.add("content-type", "text/plain")
            .unwrap()
            .add("x", "a, b")
            .unwrap();
        let fields: Vec<_> = header_lines(b.as_bytes()).map(Result::unwrap).collect();
        assert_eq!(fields, [("content-type", "text/plain"), ("x", "a, b")]);
    }

    #[test]
    fn decoding_table() {
        type Fields = Vec<Result<(&'static str, &'static str), Error>>;
        let cases: &[(&[u8], Fields)] = &[
            (b"", Vec::from([])),
            (b"\n\n", Vec::from([])),
            (b"a:1", Vec::from([Ok(("a", "1"))])),
            (b"a:\n", Vec::from([Ok(("a", ""))])),
            (b"a: \t1\t \n", Vec::from([Ok(("a", "1"))])),
            (b"a:b:c\n", Vec::from([Ok(("a", "b:c"))])),
            (b"a:1\n\nb:2\n", Vec::from([Ok(("a", "1")), Ok(("b", "2"))])),
            (
                b"novalue\nb:2",
                Vec::from([Err(Error::InvalidEncoding), Ok(("b", "2"))]),
            ),
            (b"a b:1\n", Vec::from([Err(Error::InvalidEncoding)])),
            (b":1\n", Vec::from([Err(Error::InvalidEncoding)])),
            (b"a:1\r\n", Vec::from([Err(Error::InvalidEncoding)])),
            (
                b"a:\xff\nb:2\n",
                Vec::from([Err(Error::Utf8Error), Ok(("b", "2"))]),
            ),
        ];
        for (block, want) in cases {
            let got: Fields = header_lines(block).collect();
            assert_eq!(
                &got,
                want,
                "{:?}",
                std::string::String::from_utf8_lossy(block)
            );
        }
    }
}
