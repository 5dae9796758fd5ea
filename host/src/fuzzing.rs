//! Entry points for the fuzz targets in `fuzz/` (crate feature `fuzzing`; not a stable API).
//!
//! Each function drives the crate's real code the way the host does, sans I/O, and returns a
//! plain value the targets can compare: the same parser, decoder, URL parser, allow-list and
//! serializer as production, never a copy.

use crate::config::{Limits, MAX_INTERIM_RESPONSES};
use crate::error::HttpError;
use crate::http1::{self, BodyDecoder, HeadParser, StatusClass};
use crate::policy::{AddressPolicy, AllowList};
use crate::url;
use std::net::IpAddr;

/// Small limits, so the fuzzer reaches every limit quickly.
pub fn small_limits() -> Limits {
    Limits {
        max_header_line: 64,
        max_header_section: 256,
        max_header_count: 8,
        max_chunk_line: 32,
        ..Limits::default()
    }
}

/// A field line: lowercase name, value.
pub type FieldPair = (Vec<u8>, Vec<u8>);

/// What a response's bytes decode to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseOutcome {
    /// Status and fields (name, value) of the final head, if one was parsed.
    pub head: Option<(u16, Vec<FieldPair>)>,
    /// Decoded body bytes delivered.
    pub body: Vec<u8>,
    /// The ABI code of the failure, if any (0 = none).
    pub code: u32,
    /// Whether the body reached its framed end (at EOF for a close-delimited body).
    pub complete: bool,
}

/// Decodes a whole response from `input`, arriving in pieces of the given sizes (the rest in
/// one piece), as the client does over a connection: head (interim responses skipped), framing,
/// body into a small output buffer, EOF at the end of the input.
pub fn decode_response(input: &[u8], pieces: &[usize], out_len: usize) -> ResponseOutcome {
    let limits = small_limits();
    let mut outcome = ResponseOutcome {
        head: None,
        body: Vec::new(),
        code: 0,
        complete: false,
    };
    let mut arrivals = Vec::new();
    let mut at: usize = 0;
    for &n in pieces {
        let end = at.saturating_add(n.max(1)).min(input.len());
        if end > at {
            arrivals.push(at..end);
        }
        at = end;
    }
    if at < input.len() {
        arrivals.push(at..input.len());
    }
    let mut arrivals = arrivals.into_iter();
    // The connection's buffer: bytes arrived and not consumed.
    let mut buf: Vec<u8> = Vec::new();
    let mut fill = |buf: &mut Vec<u8>| match arrivals.next() {
        Some(r) => {
            buf.extend_from_slice(input.get(r).unwrap_or_default());
            true
        }
        None => false,
    };
    let fail = |outcome: &mut ResponseOutcome, e: HttpError| {
        outcome.code = e.code().code();
    };
    // Head, skipping interim responses.
    let mut interim = 0;
    let head = loop {
        let mut parser = HeadParser::response(&limits);
        let end = loop {
            match parser.feed(&buf) {
                Err(e) => {
                    fail(&mut outcome, e.into());
                    return outcome;
                }
                Ok(Some(end)) => break end,
                Ok(None) => {
                    if !fill(&mut buf) {
                        fail(&mut outcome, HttpError::Incomplete);
                        return outcome;
                    }
                }
            }
        };
        let parsed = match http1::parse_head(buf.get(..end).unwrap_or_default()) {
            Ok(h) => h,
            Err(e) => {
                fail(&mut outcome, e.into());
                return outcome;
            }
        };
        buf.drain(..end.min(buf.len()));
        match parsed.class() {
            Err(e) => {
                fail(&mut outcome, e.into());
                return outcome;
            }
            Ok(StatusClass::Interim) => {
                interim += 1;
                if interim > MAX_INTERIM_RESPONSES {
                    fail(
                        &mut outcome,
                        http1::ParseError::TooManyInterimResponses.into(),
                    );
                    return outcome;
                }
            }
            Ok(StatusClass::Final) => break parsed,
        }
    };
    outcome.head = Some((
        head.status,
        head.fields()
            .map(|(name, value)| (name.to_vec(), value.to_vec()))
            .collect(),
    ));
    let framing = match http1::framing(&head, false) {
        Ok(f) => f,
        Err(e) => {
            fail(&mut outcome, e.into());
            return outcome;
        }
    };
    let mut decoder = BodyDecoder::new(framing);
    let mut out = vec![0u8; out_len.clamp(1, 64)];
    loop {
        if decoder.is_done() {
            outcome.complete = true;
            return outcome;
        }
        if buf.is_empty() {
            if fill(&mut buf) {
                continue;
            }
            if let Err(e) = decoder.eof() {
                fail(&mut outcome, e.into());
            } else {
                outcome.complete = true;
            }
            return outcome;
        }
        match decoder.decode(&buf, &mut out, &limits) {
            Err(e) => {
                fail(&mut outcome, e.into());
                return outcome;
            }
            Ok(p) => {
                outcome
                    .body
                    .extend_from_slice(out.get(..p.produced).unwrap_or_default());
                buf.drain(..p.consumed.min(buf.len()));
                // The client fails the body here (`HttpError::Internal`): a decoder that makes no
                // progress on non-empty input is a bug, and the fuzzer must see it as one.
                assert!(
                    p.consumed > 0 || p.produced > 0 || decoder.is_done(),
                    "body decoder made no progress"
                );
            }
        }
    }
}

/// A URL's origin as the allow-list sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUrl {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The normalized host (`[v6]` for IPv6), as sent in `Host`.
    pub host: String,
    /// Whether the host is a name (goes to the resolver) rather than an IP literal.
    pub is_name: bool,
    /// The port, default filled in.
    pub port: u16,
    /// The request-target.
    pub path_and_query: String,
}

/// Parses a request URL as `req` does.
pub fn parse_url(text: &str) -> Option<ParsedUrl> {
    let t = url::parse_url(text).ok()?;
    Some(ParsedUrl {
        scheme: match t.origin.scheme {
            url::Scheme::Http => "http",
            url::Scheme::Https => "https",
        },
        host: t.origin.host.to_string(),
        is_name: matches!(t.origin.host, url::Host::Name(_)),
        port: t.origin.port,
        path_and_query: t.path_and_query,
    })
}

/// Builds an allow-list from entries (as the builder does); `None` for a configuration error.
pub fn allow_list(entries: &[&str]) -> Option<AllowListHandle> {
    AllowList::parse(entries).ok().map(AllowListHandle)
}

/// An allow-list, opaque.
#[derive(Debug)]
pub struct AllowListHandle(AllowList);

impl AllowListHandle {
    /// Whether the list admits the URL's origin; `None` if the URL does not parse.
    pub fn admits(&self, url_text: &str) -> Option<bool> {
        let t = url::parse_url(url_text).ok()?;
        Some(self.0.admit(&t.origin).is_some())
    }
}

/// Whether the default address policy lets a request admitted by a plain (non-literal,
/// non-`localhost`) entry connect to `ip`.
pub fn public_only_permits(ip: IpAddr) -> bool {
    AddressPolicy::PublicOnly.permits(ip, &Default::default())
}

/// The request head the host would send, or the ABI code of the refusal.
pub fn encode_request(
    method: &str,
    url_text: &str,
    headers: &str,
    body_len: usize,
) -> Result<Vec<u8>, u32> {
    let refuse = |e: HttpError| e.code().code();
    let target = url::parse_url(url_text).map_err(|e| refuse(e.into()))?;
    http1::validate_method(method).map_err(|e| refuse(e.into()))?;
    http1::encode_request_head(
        method,
        &target.origin.authority(),
        &target.path_and_query,
        headers,
        body_len,
    )
    .map_err(|e| refuse(e.into()))
}
