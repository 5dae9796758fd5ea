//! The response head: status line and header section (RFC 9112 §4, §5).

use super::{ParseError, is_field_value_byte, is_tchar, trim_ows};
use crate::config::Limits;

/// Finds the end of a head (or a trailer section) incrementally, enforcing the line, section
/// and field-count limits on partial input so a server that never finishes cannot grow a buffer.
#[derive(Debug, Clone)]
pub(crate) struct HeadParser {
    scanned: usize,
    line_start: usize,
    lines: usize,
    has_start_line: bool,
    max_line: usize,
    max_section: usize,
    max_fields: usize,
}

impl HeadParser {
    /// A parser for a response head (first line is the status line).
    pub(crate) fn response(limits: &Limits) -> HeadParser {
        HeadParser::new(limits, true)
    }

    /// A parser for a trailer section (field lines only).
    pub(crate) fn trailers(limits: &Limits) -> HeadParser {
        HeadParser::new(limits, false)
    }

    fn new(limits: &Limits, has_start_line: bool) -> HeadParser {
        HeadParser {
            scanned: 0,
            line_start: 0,
            lines: 0,
            has_start_line,
            max_line: limits.max_header_line,
            max_section: limits.max_header_section,
            max_fields: limits.max_header_count,
        }
    }

    /// Feeds the whole buffered section so far (`buf` always starts at the section's first
    /// byte). Returns the section's length once its empty line has arrived.
    ///
    /// Limits are checked byte by byte in arrival order, on partial input too, so the first
    /// limit a byte crosses is the one reported, however the bytes were split into reads.
    pub(crate) fn feed(&mut self, buf: &[u8]) -> Result<Option<usize>, ParseError> {
        // Line by line rather than byte by byte: the limits a line's bytes can cross are found
        // arithmetically, with the same outcome as checking each byte in arrival order.
        let mut i = self.scanned;
        while i < buf.len() {
            let rest = buf.get(i..).unwrap_or_default();
            let newline = rest.iter().position(|&b| b == b'\n').map(|p| i + p);
            let stop = newline.unwrap_or(buf.len());
            // The first byte of i..stop (none of them LF) at which each limit fires: the section
            // limit at index max_section, the line limit once the line so far, this byte
            // included, exceeds max_line + 1 (+1: its CR may be this byte or come next).
            let section_at = self.max_section.max(i);
            let line_at = (self.line_start)
                .saturating_add(self.max_line)
                .saturating_add(1)
                .max(i);
            if section_at.min(line_at) < stop {
                // At the same byte the section limit was checked first.
                return Err(if section_at <= line_at {
                    ParseError::SectionTooLarge
                } else {
                    ParseError::LineTooLong
                });
            }
            let Some(nl) = newline else { break };
            if nl >= self.max_section {
                return Err(ParseError::SectionTooLarge);
            }
            let line = buf.get(self.line_start..nl).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > self.max_line {
                return Err(ParseError::LineTooLong);
            }
            self.line_start = nl + 1;
            if line.is_empty() && (self.lines > 0 || !self.has_start_line) {
                self.scanned = nl + 1;
                return Ok(Some(nl + 1));
            }
            self.lines += 1;
            let fields = self.lines - usize::from(self.has_start_line);
            if fields > self.max_fields {
                return Err(ParseError::TooManyFields);
            }
            i = nl + 1;
        }
        self.scanned = buf.len();
        Ok(None)
    }
}

/// Where one received field line's name and value lie in [`ResponseHead`]'s byte store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldSpan {
    start: usize,
    name_end: usize,
    end: usize,
}

/// A field name a guest asked for is not a token (RFC 9110 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidFieldName;

/// Interim or final response (RFC 9110 §15.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusClass {
    /// 1xx other than 101: skipped by a client that does not use it.
    Interim,
    /// 2xx..5xx: the response.
    Final,
}

/// A parsed status line and header section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    /// `HTTP/1.0` (false) or `HTTP/1.1` (true).
    pub(crate) http11: bool,
    /// The status code, 100..=599.
    pub(crate) status: u16,
    /// Every field line's lowercase name and trimmed value (may include obs-text, never CR, LF
    /// or NUL), back to back: one allocation per head rather than two per field line.
    bytes: Vec<u8>,
    /// Field lines in the order received.
    spans: Vec<FieldSpan>,
}

impl ResponseHead {
    /// Field lines in the order received: (lowercase name, value).
    pub(crate) fn fields(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> {
        self.spans.iter().map(|s| {
            let name = self.bytes.get(s.start..s.name_end).unwrap_or_default();
            let value = self.bytes.get(s.name_end..s.end).unwrap_or_default();
            (name, value)
        })
    }

    /// The values of every field line named `name` (lowercase), in order.
    pub(crate) fn values<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// Like [`Self::values`], comparing `name` ASCII case-insensitively (no allocation, so a
    /// guest's huge name costs the host nothing).
    pub(crate) fn values_ignore_case<'a>(
        &'a self,
        name: &'a [u8],
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The combined value of every field line named `name` (any case): RFC 9110 §5.3, field
    /// lines of one name combine, in order, with ", ". `None` if there is none; an error if
    /// `name` is not a field name at all (`abi.md`, `header_get`).
    pub(crate) fn field_value(&self, name: &[u8]) -> Result<Option<Vec<u8>>, InvalidFieldName> {
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(InvalidFieldName);
        }
        let mut value: Option<Vec<u8>> = None;
        for v in self.values_ignore_case(name) {
            match value.as_mut() {
                None => value = Some(v.to_vec()),
                Some(acc) => {
                    acc.extend_from_slice(b", ");
                    acc.extend_from_slice(v);
                }
            }
        }
        Ok(value)
    }

    /// Every field line as `name:value\n`, in the order received, names lowercase: the
    /// header-block encoding of `abi.md` ("Header blocks"), as `headers_get_all` returns it.
    pub(crate) fn header_block(&self) -> Vec<u8> {
        let len = self.bytes.len() + 2 * self.spans.len();
        let mut block = Vec::with_capacity(len);
        for (name, value) in self.fields() {
            block.extend_from_slice(name);
            block.push(b':');
            block.extend_from_slice(value);
            block.push(b'\n');
        }
        block
    }

    /// Whether this is an interim (1xx) or the final response. RFC 9110 §15.2.2: we never send
    /// `Upgrade`, so `101 Switching Protocols` is a protocol violation.
    pub(crate) fn class(&self) -> Result<StatusClass, ParseError> {
        match self.status {
            101 => Err(ParseError::SwitchingProtocols),
            100..=199 => Ok(StatusClass::Interim),
            _ => Ok(StatusClass::Final),
        }
    }

    /// Whether the connection may carry another request after this response (RFC 9112 §9.3).
    /// Only HTTP/1.1 connections are reused: HTTP/1.0 keep-alive is a legacy extension not worth
    /// the extra rules.
    pub(crate) fn keep_alive(&self) -> bool {
        let has = |token: &str| {
            self.values(b"connection").any(|v| {
                v.split(|&b| b == b',')
                    .any(|t| trim_ows(t).eq_ignore_ascii_case(token.as_bytes()))
            })
        };
        self.http11 && !has("close")
    }
}

/// Parses a complete head as delimited by [`HeadParser`]: line endings CRLF or bare LF
/// (RFC 9112 §2.2 allows a recipient to accept LF), never a bare CR.
pub(crate) fn parse_head(head: &[u8]) -> Result<ResponseHead, ParseError> {
    let mut lines = split_lines(head)?;
    let status_line = lines.next().ok_or(ParseError::StatusLine)?;
    let (http11, status) = parse_status_line(status_line)?;
    // The names and values are shorter than the head, so `bytes` is sized once. Most responses
    // carry fewer than 16 field lines; counting them would cost another pass over the head.
    let mut bytes = Vec::with_capacity(head.len());
    let mut spans = Vec::with_capacity(16);
    for line in lines {
        if line.is_empty() {
            break;
        }
        let (name, value) = parse_field_line(line)?;
        let start = bytes.len();
        bytes.extend(name.iter().map(u8::to_ascii_lowercase));
        let name_end = bytes.len();
        bytes.extend_from_slice(value);
        spans.push(FieldSpan {
            start,
            name_end,
            end: bytes.len(),
        });
    }
    Ok(ResponseHead {
        http11,
        status,
        bytes,
        spans,
    })
}

/// Splits a section into lines without their terminators.
pub(crate) fn split_lines(section: &[u8]) -> Result<impl Iterator<Item = &[u8]>, ParseError> {
    let body = section.strip_suffix(b"\n").unwrap_or(section);
    // RFC 9112 §2.2: a bare CR must not be treated as a line ending; we reject it outright. A CR
    // is bare unless an LF follows it (or it ends the last, unterminated line, whose CR is
    // stripped like any other line's). Checked in one pass, from CR to CR, so no list of lines
    // is built.
    let mut rest = body;
    while let Some(cr) = rest.iter().position(|&b| b == b'\r') {
        rest = rest.get(cr + 1..).unwrap_or_default();
        if !matches!(rest.first(), None | Some(b'\n')) {
            return Err(ParseError::BareCr);
        }
    }
    Ok(body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l)))
}

/// `HTTP-version SP status-code SP [reason-phrase]` (RFC 9112 §4). A missing SP after the code
/// is tolerated, as many servers omit it with an empty reason. The code must be 100–599: RFC 9110
/// §15 calls any other value invalid, and the host refuses it rather than pass it on.
fn parse_status_line(line: &[u8]) -> Result<(bool, u16), ParseError> {
    let http11 = match line.get(..9) {
        Some(b"HTTP/1.1 ") => true,
        Some(b"HTTP/1.0 ") => false,
        _ => return Err(ParseError::StatusLine),
    };
    let code = line.get(9..12).ok_or(ParseError::StatusLine)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::StatusLine);
    }
    let status = code
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&status) {
        return Err(ParseError::StatusCode);
    }
    match line.get(12..) {
        None | Some([]) => {}
        Some([b' ', reason @ ..]) if reason.iter().all(|&b| is_field_value_byte(b)) => {}
        Some(_) => return Err(ParseError::StatusLine),
    }
    Ok((http11, status))
}

/// `field-name ":" OWS field-value OWS` (RFC 9112 §5): the name as received and the value
/// without its surrounding whitespace.
pub(crate) fn parse_field_line(line: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(ParseError::ObsFold);
    }
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(ParseError::FieldName)?;
    let (name, rest) = line.split_at(colon);
    // RFC 9112 §5.1: whitespace between name and colon MUST be rejected; it is not a tchar.
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(ParseError::FieldName);
    }
    let value = trim_ows(rest.get(1..).unwrap_or_default());
    if !value.iter().all(|&b| is_field_value_byte(b)) {
        return Err(ParseError::FieldValue);
    }
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A:  b \r\nx-a: c\r\n\r\n";

    /// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
    /// "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA; the lookup table says exactly that.
    #[test]
    fn tchar_table_is_rfc_9110_tchar() {
        for b in 0..=255u8 {
            let want = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), want, "byte {b:#04x}");
        }
    }

    #[test]
    fn every_prefix_of_a_valid_head_is_partial() {
        for n in 0..OK.len() {
            let mut p = HeadParser::response(&limits());
            assert_eq!(p.feed(&OK[..n]), Ok(None), "prefix {n}");
        }
        let mut p = HeadParser::response(&limits());
        assert_eq!(p.feed(OK), Ok(Some(OK.len())));
    }

    #[test]
    fn incremental_feeding_finds_the_same_end() {
        let mut p = HeadParser::response(&limits());
        let mut buf = OK.to_vec();
        buf.extend_from_slice(b"body");
        for n in 1..buf.len() {
            if let Some(end) = p.feed(&buf[..n]).unwrap() {
                assert_eq!(end, OK.len());
                return;
            }
        }
        panic!("end not found");
    }

    #[test]
    fn parses_status_and_fields() {
        let h = parse_head(OK).unwrap();
        assert!(h.http11);
        assert_eq!(h.status, 200);
        assert_eq!(h.fields().len(), 3);
        assert_eq!(h.fields().next().unwrap().0, b"content-type");
        assert_eq!(
            h.values(b"x-a").collect::<Vec<_>>(),
            vec![&b"b"[..], &b"c"[..]]
        );
        assert!(h.keep_alive());
        let h = parse_head(b"HTTP/1.0 204\n\n").unwrap();
        assert_eq!(h.status, 204);
        assert!(!h.keep_alive());
        let h = parse_head(b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, close\r\n\r\n").unwrap();
        assert!(!h.keep_alive());
    }

    /// One row per rule of the status line and field lines, with the exact error.
    #[test]
    fn malformed_head_table() {
        use ParseError::*;
        let cases: &[(&[u8], ParseError, &str)] = &[
            (
                b"HTTP/2 200 OK\r\n\r\n",
                StatusLine,
                "RFC 9112 §2.3: only HTTP/1.x",
            ),
            (
                b"http/1.1 200 OK\r\n\r\n",
                StatusLine,
                "RFC 9112 §2.3: HTTP-name is case-sensitive",
            ),
            (
                b"HTTP/1.1 20 OK\r\n\r\n",
                StatusLine,
                "RFC 9112 §4: status-code = 3DIGIT",
            ),
            (
                b"HTTP/1.1 2000 OK\r\n\r\n",
                StatusLine,
                "RFC 9112 §4: SP after the code",
            ),
            (
                b"HTTP/1.1 099 x\r\n\r\n",
                StatusCode,
                "RFC 9110 §15: codes start at 100",
            ),
            (
                b"HTTP/1.1 000 x\r\n\r\n",
                StatusCode,
                "RFC 9110 §15: codes start at 100",
            ),
            (
                b"HTTP/1.1 600 x\r\n\r\n",
                StatusCode,
                "RFC 9110 §15: codes end at 599",
            ),
            (
                b"HTTP/1.1 999\r\n\r\n",
                StatusCode,
                "RFC 9110 §15: codes end at 599",
            ),
            (
                b"HTTP/1.1 200 O\x01K\r\n\r\n",
                StatusLine,
                "RFC 9112 §4: reason-phrase bytes",
            ),
            (
                b"HTTP/1.1 200 OK\r\nName : v\r\n\r\n",
                FieldName,
                "RFC 9112 §5.1: no WS before colon",
            ),
            (
                b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n",
                FieldName,
                "RFC 9112 §5: field-name \":\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\n: v\r\n\r\n",
                FieldName,
                "RFC 9110 §5.1: field-name = token",
            ),
            (
                b"HTTP/1.1 200 OK\r\nA: b\0\r\n\r\n",
                FieldValue,
                "RFC 9110 §5.5: no NUL in values",
            ),
            (
                b"HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",
                ObsFold,
                "RFC 9112 §5.2: obs-fold rejected",
            ),
            (
                b"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
                BareCr,
                "RFC 9112 §2.2: bare CR",
            ),
        ];
        for (head, want, rule) in cases {
            assert_eq!(
                parse_head(head),
                Err(*want),
                "{rule}: {:?}",
                String::from_utf8_lossy(head)
            );
        }
    }

    /// What the head parser accepts, and how it reads it.
    #[test]
    fn accepted_head_table() {
        // (head, HTTP/1.1?, status, fields, rule)
        let cases: &[(&[u8], bool, u16, usize, &str)] = &[
            (b"HTTP/1.1 200 OK\r\n\r\n", true, 200, 0, "RFC 9112 §4"),
            (
                b"HTTP/1.0 204\n\n",
                false,
                204,
                0,
                "RFC 9112 §2.2: bare LF; §4: no reason",
            ),
            (
                b"HTTP/1.1 404 \r\n\r\n",
                true,
                404,
                0,
                "RFC 9112 §4: empty reason-phrase",
            ),
            (
                b"HTTP/1.1 200 OK\r\nA:\r\n\r\n",
                true,
                200,
                1,
                "RFC 9110 §5.5: empty value",
            ),
            (
                b"HTTP/1.1 200 OK\r\nA: \xff\r\n\r\n",
                true,
                200,
                1,
                "RFC 9110 §5.5: obs-text",
            ),
            (
                b"HTTP/1.1 100 x\r\n\r\n",
                true,
                100,
                0,
                "RFC 9110 §15: lowest code",
            ),
            (
                b"HTTP/1.1 599 x\r\n\r\n",
                true,
                599,
                0,
                "RFC 9110 §15: highest code",
            ),
        ];
        for (head, http11, status, fields, rule) in cases {
            let h = parse_head(head).unwrap_or_else(|e| panic!("{rule}: {e:?}"));
            assert_eq!(
                (h.http11, h.status, h.fields().len()),
                (*http11, *status, *fields),
                "{rule}"
            );
        }
    }

    /// `abi.md`, `header_get`: names compare case-insensitively, repeated fields combine with
    /// ", " in order (RFC 9110 §5.3); `headers_get_all` is `name:value\n` lines.
    #[test]
    fn field_lookup_and_header_block() {
        let h = parse_head(OK).unwrap();
        assert_eq!(h.field_value(b"X-A"), Ok(Some(b"b, c".to_vec())));
        assert_eq!(
            h.field_value(b"content-type"),
            Ok(Some(b"text/plain".to_vec()))
        );
        assert_eq!(h.field_value(b"missing"), Ok(None));
        assert_eq!(h.field_value(b""), Err(InvalidFieldName));
        assert_eq!(h.field_value(b"a b"), Err(InvalidFieldName));
        assert_eq!(
            h.header_block(),
            b"content-type:text/plain\nx-a:b\nx-a:c\n".to_vec()
        );
    }

    /// RFC 9110 §15.2: 1xx are interim; 101 is refused since we never ask to upgrade.
    #[test]
    fn status_classes() {
        let class = |s: &[u8]| parse_head(s).unwrap().class();
        assert_eq!(
            class(b"HTTP/1.1 100 Continue\r\n\r\n"),
            Ok(StatusClass::Interim)
        );
        assert_eq!(
            class(b"HTTP/1.1 103 Early\r\n\r\n"),
            Ok(StatusClass::Interim)
        );
        assert_eq!(class(b"HTTP/1.1 200 OK\r\n\r\n"), Ok(StatusClass::Final));
        assert_eq!(
            class(b"HTTP/1.1 101 Switching\r\n\r\n"),
            Err(ParseError::SwitchingProtocols)
        );
    }

    /// `abi.md`, "Timeouts and limits": the default limits accept the long lines real sites
    /// send (curl's 100 KiB per line, browsers' 256 KiB per head) and refuse just beyond them.
    #[test]
    fn default_limits_table() {
        fn head(lines: &[usize]) -> Vec<u8> {
            let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
            for (i, &len) in lines.iter().enumerate() {
                let name = format!("x-{i:03}: ");
                h.extend_from_slice(name.as_bytes());
                h.extend(std::iter::repeat_n(b'v', len - name.len()));
                h.extend_from_slice(b"\r\n");
            }
            h.extend_from_slice(b"\r\n");
            h
        }
        const KIB: usize = 1024;
        let cases: &[(&[usize], Result<(), ParseError>, &str)] = &[
            (
                &[40 * KIB],
                Ok(()),
                "a 40 KiB Content-Security-Policy-sized line",
            ),
            (&[100 * KIB], Ok(()), "a line of exactly 100 KiB"),
            (
                &[100 * KIB + 1],
                Err(ParseError::LineTooLong),
                "100 KiB + 1",
            ),
            (&[90 * KIB, 90 * KIB], Ok(()), "two 90 KiB lines: 180 KiB"),
            (&[8 * KIB; 30], Ok(()), "thirty 8 KiB cookies: 240 KiB"),
            (
                &[90 * KIB, 90 * KIB, 90 * KIB],
                Err(ParseError::SectionTooLarge),
                "three 90 KiB lines: 270 KiB",
            ),
        ];
        for (lines, want, what) in cases {
            let h = head(lines);
            let got = HeadParser::response(&Limits::default())
                .feed(&h)
                .map(|end| assert_eq!(end, Some(h.len()), "{what}"));
            assert_eq!(got, *want, "{what}");
        }
    }

    /// The verdict on `head` fed whole, and fed one byte more at a time.
    fn whole_and_bytewise(
        l: &Limits,
        head: &[u8],
    ) -> (
        Result<Option<usize>, ParseError>,
        Result<Option<usize>, ParseError>,
    ) {
        let whole = HeadParser::response(l).feed(head);
        let mut p = HeadParser::response(l);
        let bytewise = (1..=head.len())
            .map(|n| p.feed(&head[..n]))
            .find(|r| !matches!(r, Ok(None)))
            .unwrap_or(Ok(None));
        (whole, bytewise)
    }

    /// Found by the `response` fuzz target: the section limit crossed in the middle of a line
    /// that is also too long was reported as the line limit when the head arrived whole, and as
    /// the section limit when it arrived a byte at a time. The first limit crossed in arrival
    /// order wins, whatever the split.
    #[test]
    fn the_first_limit_crossed_is_reported_whatever_the_split() {
        let l = Limits {
            max_header_line: 64,
            max_header_section: 256,
            max_header_count: 100,
            ..Limits::default()
        };
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..4 {
            head.extend_from_slice(&[b'a'; 50]);
            head.extend_from_slice(b":\r\n");
        }
        // 225 bytes so far: the section limit falls inside this 70-byte line.
        head.extend_from_slice(&[b'b'; 70]);
        head.extend_from_slice(b":\r\n\r\n");
        let (whole, bytewise) = whole_and_bytewise(&l, &head);
        assert_eq!(whole, Err(ParseError::SectionTooLarge));
        assert_eq!(bytewise, whole);
        // The line limit crossed first is reported first, split or not.
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        head.extend_from_slice(&[b'c'; 70]);
        head.extend_from_slice(b":\r\n\r\n");
        let (whole, bytewise) = whole_and_bytewise(&l, &head);
        assert_eq!(whole, Err(ParseError::LineTooLong));
        assert_eq!(bytewise, whole);
    }

    #[test]
    fn limits_apply_to_partial_input() {
        let l = Limits {
            max_header_line: 16,
            max_header_section: 64,
            max_header_count: 2,
            ..Limits::default()
        };
        let mut p = HeadParser::response(&l);
        assert_eq!(p.feed(&[b'a'; 40]), Err(ParseError::LineTooLong));
        let mut p = HeadParser::response(&l);
        assert_eq!(
            p.feed(b"HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\nc: 3\r\n"),
            Err(ParseError::TooManyFields)
        );
        let l = Limits {
            max_header_count: 100,
            ..l
        };
        let mut p = HeadParser::response(&l);
        let many =
            b"HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\nf: 6\r\ng: 7\r\nh: 8\r\n";
        assert_eq!(p.feed(many), Err(ParseError::SectionTooLarge));
    }
}
