//! Host errors: what went wrong, when, and whose fault it was.
//!
//! The places that decide what a failure means (`ARCHITECTURE.md`, "Invariants"):
//! - [`HttpError::from_io`] (with [`HttpError::eof`]) classifies every failed read, write and
//!   TLS handshake call from the phase whose budget was armed and how far the exchange had got
//!   ([`Stage`]); [`HttpError::from_connect`] a failed TCP connect;
//! - [`HttpError::code`] maps a host error to its ABI code, and is the only such map.
//!
//! The other variants (DNS, address policy, limits, the guest's arguments) are made where
//! their condition is checked, with no I/O error to interpret.
//!
//! The detail (I/O error text, TLS alert, parse element) only ever goes to the log.

use crate::error_code::ErrorCode;
use crate::http1::{InvalidFieldName, ParseError, RequestError, Truncated};
use crate::quota::QuotaKind;
use crate::url::UrlError;
use std::fmt;
use std::io;
use std::net::IpAddr;

/// The phase whose time budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeoutPhase {
    /// TCP connect to every address.
    Connect,
    /// Waiting for the response header section.
    ResponseHeader,
    /// No progress for the idle timeout.
    Idle,
    /// The overall request deadline.
    Total,
}

/// How far an exchange had got when the connection failed. The same EOF or reset means the
/// peer hung up before answering (on a pooled connection: retryable) or a truncated response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Connecting, handshaking, sending the request, or waiting for the first response byte.
    BeforeResponse,
    /// At least one byte of the response (an interim response included) has arrived.
    InResponse,
}

/// A failed socket or TLS call, with the phase whose budget was armed for it.
#[derive(Debug)]
pub(crate) struct IoFailure {
    /// What the system or rustls reported.
    pub(crate) error: io::Error,
    /// The phase to blame if it was a timeout.
    pub(crate) phase: TimeoutPhase,
}

/// The error inside an `io::Error` that an interrupted wait returns (made by the transport,
/// recognised by [`HttpError::from_io`]). std's `ErrorKind::Interrupted` is EINTR, which is
/// retried, so it cannot carry this meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted by the embedder")
    }
}

impl std::error::Error for Interrupted {}

/// How the egress proxy failed (`abi.md`, "Egress proxy"). The embedder's controls keep their
/// own codes: a timeout of a proxy wait is a [`HttpError::Timeout`], an interrupt
/// [`HttpError::Interrupted`].
#[derive(Debug)]
pub(crate) enum ProxyError {
    /// The proxy could not be reached: what failed (name resolution, the address policy, the
    /// TCP connect), or the proxy hung up before answering `CONNECT`.
    Unreachable(Box<HttpError>),
    /// The proxy answered `CONNECT` with this status (neither 2xx nor 407).
    Refused(u16),
    /// The proxy asked for other credentials: 407 Proxy Authentication Required (RFC 9110
    /// §15.5.8), or 401 to `CONNECT` (some proxies, tinyproxy among them, answer wrong
    /// credentials so); the status.
    AuthRequired(u16),
    /// The answer to `CONNECT` broke a rule: the grammar element, or what else was wrong.
    Malformed(&'static str),
}

/// Why a request or a body read failed.
#[derive(Debug)]
pub(crate) enum HttpError {
    // --- the guest's fault: bad arguments ---
    /// The URL is not one we accept (or is over the length limit).
    Url(UrlError),
    /// The method or the header block is unacceptable.
    Request(RequestError),
    /// A string argument is not UTF-8.
    Utf8,
    /// The allow-list refused the origin.
    NotAllowed,
    /// The request body is over the limit.
    RequestBodyTooLarge,
    /// The request header block is over the limit.
    RequestHeadersTooLarge,
    /// A header name asked for is not a token.
    InvalidFieldName,
    // --- the network's or the server's fault ---
    /// Name resolution failed.
    Dns(io::Error),
    /// Every resolved address was refused by the address policy; the first one.
    AddressProhibited(IpAddr),
    /// Every address refused the connection.
    ConnectionRefused,
    /// A time budget ran out.
    Timeout(TimeoutPhase),
    /// The connection closed or reset before any response byte.
    Terminated(io::Error),
    /// The certificate was rejected.
    TlsCertificate(rustls::Error),
    /// Any other TLS failure.
    TlsProtocol(rustls::Error),
    /// The connection ended before the response was complete.
    Incomplete,
    /// The server broke the protocol or a limit.
    Parse(ParseError),
    /// The body exceeds the configured maximum.
    BodyTooLarge,
    /// Any other I/O error.
    Io(io::Error),
    /// The egress proxy failed before the request reached the origin.
    Proxy(ProxyError),
    // --- the embedder's ---
    /// A quota is used up.
    QuotaExceeded(QuotaKind),
    /// The embedder interrupted the store (or dropped the future of an async call).
    Interrupted,
    // --- ours ---
    /// An internal invariant failed (a bug, reported rather than spun on or panicked over).
    Internal(&'static str),
}

impl HttpError {
    /// The one place where a host error becomes an ABI code.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            HttpError::Url(_) => ErrorCode::InvalidUrl,
            HttpError::Request(RequestError::Method) => ErrorCode::InvalidMethod,
            HttpError::Request(RequestError::HeaderBlock(_)) => ErrorCode::InvalidEncoding,
            HttpError::Request(RequestError::ForbiddenHeader(_)) => ErrorCode::ForbiddenHeader,
            HttpError::Utf8 => ErrorCode::Utf8Error,
            HttpError::NotAllowed => ErrorCode::DestinationNotAllowed,
            HttpError::RequestBodyTooLarge => ErrorCode::RequestBodyTooLarge,
            HttpError::RequestHeadersTooLarge => ErrorCode::RequestHeadersTooLarge,
            HttpError::InvalidFieldName => ErrorCode::InvalidEncoding,
            HttpError::Dns(_) => ErrorCode::DnsError,
            HttpError::AddressProhibited(_) => ErrorCode::DestinationIpProhibited,
            HttpError::ConnectionRefused => ErrorCode::ConnectionRefused,
            HttpError::Timeout(TimeoutPhase::Connect) => ErrorCode::ConnectionTimeout,
            HttpError::Timeout(TimeoutPhase::ResponseHeader) => ErrorCode::ResponseHeaderTimeout,
            HttpError::Timeout(TimeoutPhase::Idle) => ErrorCode::IdleTimeout,
            HttpError::Timeout(TimeoutPhase::Total) => ErrorCode::DeadlineExceeded,
            HttpError::Terminated(_) => ErrorCode::ConnectionTerminated,
            HttpError::TlsCertificate(_) => ErrorCode::TlsCertificateError,
            HttpError::TlsProtocol(_) => ErrorCode::TlsProtocolError,
            HttpError::Incomplete => ErrorCode::ResponseIncomplete,
            HttpError::Parse(p) => match p {
                ParseError::LineTooLong => ErrorCode::ResponseHeaderLineTooLong,
                ParseError::SectionTooLarge => ErrorCode::ResponseHeaderSectionTooLarge,
                ParseError::TooManyFields => ErrorCode::ResponseTooManyHeaders,
                ParseError::ChunkLineTooLong => ErrorCode::ResponseChunkLineTooLong,
                ParseError::UnsupportedTransferCoding => {
                    ErrorCode::ResponseTransferCodingUnsupported
                }
                ParseError::StatusLine
                | ParseError::StatusCode
                | ParseError::FieldName
                | ParseError::FieldValue
                | ParseError::ObsFold
                | ParseError::BareCr
                | ParseError::ContentLength
                | ParseError::TransferEncoding
                | ParseError::TransferEncodingAndContentLength
                | ParseError::ChunkSize
                | ParseError::ChunkDataEnd
                | ParseError::Trailer
                | ParseError::SwitchingProtocols
                | ParseError::TooManyInterimResponses => ErrorCode::ResponseMalformed,
            },
            HttpError::BodyTooLarge => ErrorCode::ResponseBodyTooLarge,
            HttpError::Io(_) => ErrorCode::ConnectionError,
            HttpError::Interrupted => ErrorCode::Interrupted,
            HttpError::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            HttpError::Proxy(ProxyError::Unreachable(_)) => ErrorCode::ProxyConnectionFailed,
            HttpError::Proxy(ProxyError::Refused(_)) => ErrorCode::ProxyTunnelRefused,
            HttpError::Proxy(ProxyError::AuthRequired(_)) => ErrorCode::ProxyAuthRequired,
            HttpError::Proxy(ProxyError::Malformed(_)) => ErrorCode::ProxyResponseMalformed,
            HttpError::Internal(_) => ErrorCode::RuntimeError,
        }
    }

    /// The address the address policy refused, when that is why nothing was sent: the
    /// origin's, or the egress proxy's.
    pub(crate) fn prohibited_address(&self) -> Option<IpAddr> {
        match self {
            HttpError::AddressProhibited(ip) => Some(*ip),
            HttpError::Proxy(ProxyError::Unreachable(inner)) => inner.prohibited_address(),
            _ => None,
        }
    }

    /// The status the egress proxy answered with, when that answer is the failure.
    pub(crate) fn proxy_status(&self) -> Option<u16> {
        match self {
            HttpError::Proxy(ProxyError::Refused(status) | ProxyError::AuthRequired(status)) => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The one classification of a failed socket or TLS call: a TLS error by its kind, an
    /// expired socket timeout as the armed phase, an EOF or a reset by the stage.
    pub(crate) fn from_io(failure: IoFailure, stage: Stage) -> HttpError {
        let IoFailure { error, phase } = failure;
        if let Some(inner) = error.get_ref() {
            if inner.is::<Interrupted>() {
                return HttpError::Interrupted;
            }
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return HttpError::from_tls(tls.clone());
            }
        }
        match error.kind() {
            // std reports an expired socket timeout as either, depending on the platform.
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HttpError::Timeout(phase),
            kind if is_hang_up(kind) => HttpError::hung_up(stage, error),
            _ => HttpError::Io(error),
        }
    }

    /// A read returned end of file.
    pub(crate) fn eof(stage: Stage) -> HttpError {
        HttpError::hung_up(stage, io::ErrorKind::UnexpectedEof.into())
    }

    fn hung_up(stage: Stage, error: io::Error) -> HttpError {
        match stage {
            // Mid-response, an EOF or a reset is a truncated response (abi.md, `body_read`),
            // and must not look like a stale pooled connection that is safe to retry.
            Stage::InResponse => HttpError::Incomplete,
            Stage::BeforeResponse => HttpError::Terminated(error),
        }
    }

    /// Classifies a failed TCP connect to one address.
    pub(crate) fn from_connect(error: io::Error, phase: TimeoutPhase) -> HttpError {
        if error
            .get_ref()
            .is_some_and(|inner| inner.is::<Interrupted>())
        {
            return HttpError::Interrupted;
        }
        match error.kind() {
            io::ErrorKind::ConnectionRefused => HttpError::ConnectionRefused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => HttpError::Timeout(phase),
            // The peer accepted and hung up (a reset right after accept) before the attempt's
            // outcome was read: the socket reports the reset as the connect's error. Nothing
            // was sent, as when the same reset is seen by the first write or read instead.
            kind if is_hang_up(kind) => HttpError::Terminated(error),
            _ => HttpError::Io(error),
        }
    }

    /// Splits TLS failures into certificate problems and everything else.
    pub(crate) fn from_tls(err: rustls::Error) -> HttpError {
        match err {
            rustls::Error::InvalidCertificate(_) => HttpError::TlsCertificate(err),
            _ => HttpError::TlsProtocol(err),
        }
    }

    /// Whether the server may simply have closed an idle pooled connection under us: the
    /// request can be retried on a fresh connection if it is idempotent.
    pub(crate) fn is_stale_connection(&self) -> bool {
        matches!(self, HttpError::Terminated(_))
    }
}

/// Whether a socket error means the peer closed or reset the connection. Which of these a
/// reset shows up as depends on the call that meets it and when: `ECONNRESET` on the first read
/// or write after the RST, `EPIPE` on a later write, `ENOTCONN` on some platforms' writes, an
/// `ECONNRESET` from `SO_ERROR` when the RST arrives before the connect's outcome is read, and
/// `WriteZero` or EOF from std's helpers. Each is the same event for the guest.
fn is_hang_up(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
            | io::ErrorKind::WriteZero
    )
}

impl From<ProxyError> for HttpError {
    fn from(e: ProxyError) -> HttpError {
        HttpError::Proxy(e)
    }
}

impl From<UrlError> for HttpError {
    fn from(e: UrlError) -> HttpError {
        HttpError::Url(e)
    }
}

impl From<RequestError> for HttpError {
    fn from(e: RequestError) -> HttpError {
        HttpError::Request(e)
    }
}

impl From<ParseError> for HttpError {
    fn from(e: ParseError) -> HttpError {
        HttpError::Parse(e)
    }
}

impl From<Truncated> for HttpError {
    fn from(_: Truncated) -> HttpError {
        HttpError::Incomplete
    }
}

impl From<InvalidFieldName> for HttpError {
    fn from(_: InvalidFieldName) -> HttpError {
        HttpError::InvalidFieldName
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Url(e) => write!(f, "{e}"),
            HttpError::Request(e) => write!(f, "{e}"),
            HttpError::Dns(e) => write!(f, "name resolution failed: {e}"),
            HttpError::Terminated(e) => write!(f, "connection terminated: {e}"),
            HttpError::TlsCertificate(e) | HttpError::TlsProtocol(e) => write!(f, "TLS: {e}"),
            HttpError::Parse(p) => write!(f, "malformed response: {p:?}"),
            HttpError::Io(e) => write!(f, "I/O error: {e}"),
            HttpError::Internal(what) => write!(f, "internal error: {what}"),
            // The proxy's name only: its credentials are never part of an error.
            HttpError::Proxy(ProxyError::Unreachable(e)) => write!(f, "proxy unreachable: {e}"),
            HttpError::Proxy(ProxyError::Refused(s)) => {
                write!(f, "proxy refused the tunnel with status {s}")
            }
            HttpError::Proxy(ProxyError::AuthRequired(s)) => {
                write!(f, "proxy authentication required (status {s})")
            }
            HttpError::Proxy(ProxyError::Malformed(why)) => {
                write!(f, "malformed proxy response: {why}")
            }
            other => write!(f, "{}", other.code().name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: io::ErrorKind) -> IoFailure {
        IoFailure {
            error: kind.into(),
            phase: TimeoutPhase::Idle,
        }
    }

    /// Every (I/O error, stage) pair lands on the code `abi.md` gives for it.
    #[test]
    fn classification_table() {
        use ErrorCode::*;
        use io::ErrorKind as K;
        let cases = [
            (K::TimedOut, Stage::BeforeResponse, IdleTimeout),
            (K::WouldBlock, Stage::InResponse, IdleTimeout),
            (
                K::UnexpectedEof,
                Stage::BeforeResponse,
                ConnectionTerminated,
            ),
            (K::UnexpectedEof, Stage::InResponse, ResponseIncomplete),
            (
                K::ConnectionReset,
                Stage::BeforeResponse,
                ConnectionTerminated,
            ),
            (K::ConnectionReset, Stage::InResponse, ResponseIncomplete),
            (K::ConnectionAborted, Stage::InResponse, ResponseIncomplete),
            (K::BrokenPipe, Stage::BeforeResponse, ConnectionTerminated),
            (K::WriteZero, Stage::BeforeResponse, ConnectionTerminated),
            (K::PermissionDenied, Stage::BeforeResponse, ConnectionError),
            (K::PermissionDenied, Stage::InResponse, ConnectionError),
            (K::NotConnected, Stage::BeforeResponse, ConnectionTerminated),
            (K::NotConnected, Stage::InResponse, ResponseIncomplete),
        ];
        for (kind, stage, want) in cases {
            assert_eq!(
                HttpError::from_io(io(kind), stage).code(),
                want,
                "{kind:?} {stage:?}"
            );
        }
        assert_eq!(
            HttpError::eof(Stage::BeforeResponse).code(),
            ConnectionTerminated
        );
        assert_eq!(HttpError::eof(Stage::InResponse).code(), ResponseIncomplete);
        assert!(HttpError::eof(Stage::BeforeResponse).is_stale_connection());
        assert!(!HttpError::eof(Stage::InResponse).is_stale_connection());
    }

    /// A TLS error inside an I/O error is classified by its TLS kind, whatever the stage.
    #[test]
    fn tls_errors_inside_io_errors() {
        let cert = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        let failure = IoFailure {
            error: io::Error::new(io::ErrorKind::InvalidData, cert),
            phase: TimeoutPhase::Idle,
        };
        assert_eq!(
            HttpError::from_io(failure, Stage::InResponse).code(),
            ErrorCode::TlsCertificateError
        );
        let failure = IoFailure {
            error: io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError),
            phase: TimeoutPhase::Idle,
        };
        assert_eq!(
            HttpError::from_io(failure, Stage::BeforeResponse).code(),
            ErrorCode::TlsProtocolError
        );
    }

    #[test]
    fn timeouts_name_their_phase() {
        use ErrorCode::*;
        for (phase, want) in [
            (TimeoutPhase::Connect, ConnectionTimeout),
            (TimeoutPhase::ResponseHeader, ResponseHeaderTimeout),
            (TimeoutPhase::Idle, IdleTimeout),
            (TimeoutPhase::Total, DeadlineExceeded),
        ] {
            assert_eq!(HttpError::Timeout(phase).code(), want);
            let e = HttpError::from_connect(io::ErrorKind::TimedOut.into(), phase);
            assert_eq!(e.code(), want);
        }
        let refused = HttpError::from_connect(
            io::ErrorKind::ConnectionRefused.into(),
            TimeoutPhase::Connect,
        );
        assert_eq!(refused.code(), ConnectionRefused);
    }

    /// A reset right after accept surfaces from whichever call meets it first: the connect's
    /// `SO_ERROR`, the first write (`ECONNRESET`, then `EPIPE`), or a read. Every one is
    /// `connection_terminated` (`abi.md`, `req` ERRORS), never `connection_error`.
    #[test]
    fn a_reset_at_accept_is_terminated_whichever_call_sees_it() {
        use io::ErrorKind as K;
        for kind in [
            K::ConnectionReset,
            K::ConnectionAborted,
            K::BrokenPipe,
            K::NotConnected,
        ] {
            let e = HttpError::from_connect(kind.into(), TimeoutPhase::Connect);
            assert_eq!(
                e.code(),
                ErrorCode::ConnectionTerminated,
                "connect: {kind:?}"
            );
            let e = HttpError::from_io(io(kind), Stage::BeforeResponse);
            assert_eq!(e.code(), ErrorCode::ConnectionTerminated, "I/O: {kind:?}");
        }
    }
}
