//! HTTP/1.1, sans-IO: request serialization, the response head parser and body decoding.
//! Nothing here touches a socket or a clock; everything takes bytes and says how many it used.
//! RFC 9112 is the reference; each rule's test names the section it comes from.

mod body;
mod head;
mod request;

pub(crate) use body::{BodyDecoder, Framing, framing};
pub(crate) use head::{HeadParser, ResponseHead, parse_head};
pub(crate) use request::{encode_request_head, is_idempotent, validate_method};

use crate::ErrorCode;

/// A protocol violation or exceeded limit, named after the grammar element that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The status line is not `HTTP/1.x SP 3DIGIT [SP reason]`.
    StatusLine,
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

impl ParseError {
    /// The ABI code for this violation.
    pub fn code(self) -> ErrorCode {
        match self {
            ParseError::LineTooLong => ErrorCode::ResponseHeaderLineTooLong,
            ParseError::SectionTooLarge => ErrorCode::ResponseHeaderSectionTooLarge,
            ParseError::TooManyFields => ErrorCode::ResponseTooManyHeaders,
            ParseError::ChunkLineTooLong => ErrorCode::ResponseChunkLineTooLong,
            ParseError::UnsupportedTransferCoding => ErrorCode::ResponseTransferCodingUnsupported,
            _ => ErrorCode::ResponseMalformed,
        }
    }
}

/// `tchar` of RFC 9110 §5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

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
