//! Host errors: what went wrong, when, and whose fault it was. [`HttpError::code`] is the one
//! funnel to the ABI's codes; the detail only ever goes to the log.

use crate::ErrorCode;
use crate::http1::ParseError;
use std::fmt;
use std::io;

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

/// Why a request or a body read failed.
#[derive(Debug)]
pub(crate) enum HttpError {
    // --- the guest's fault: bad arguments ---
    /// The URL is not one we accept.
    InvalidUrl(&'static str),
    /// The method is not an acceptable token.
    InvalidMethod,
    /// The header block is malformed.
    InvalidHeaderBlock(&'static str),
    /// The guest tried to set a header the host owns.
    ForbiddenHeader(String),
    /// A string argument is not UTF-8.
    Utf8,
    /// The allow-list refused the origin.
    NotAllowed,
    /// The request body is over the limit.
    RequestBodyTooLarge,
    /// The request header block is over the limit.
    RequestHeadersTooLarge,
    // --- the network's or the server's fault ---
    /// Name resolution failed.
    Dns(io::Error),
    /// Every resolved address was refused by the address policy.
    AddressProhibited,
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
}

impl HttpError {
    /// The one place where a host error becomes an ABI code.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            HttpError::InvalidUrl(_) => ErrorCode::InvalidUrl,
            HttpError::InvalidMethod => ErrorCode::InvalidMethod,
            HttpError::InvalidHeaderBlock(_) => ErrorCode::InvalidEncoding,
            HttpError::ForbiddenHeader(_) => ErrorCode::ForbiddenHeader,
            HttpError::Utf8 => ErrorCode::Utf8Error,
            HttpError::NotAllowed => ErrorCode::DestinationNotAllowed,
            HttpError::RequestBodyTooLarge => ErrorCode::RequestBodyTooLarge,
            HttpError::RequestHeadersTooLarge => ErrorCode::RequestHeadersTooLarge,
            HttpError::Dns(_) => ErrorCode::DnsError,
            HttpError::AddressProhibited => ErrorCode::DestinationIpProhibited,
            HttpError::ConnectionRefused => ErrorCode::ConnectionRefused,
            HttpError::Timeout(TimeoutPhase::Connect) => ErrorCode::ConnectionTimeout,
            HttpError::Timeout(TimeoutPhase::ResponseHeader) => ErrorCode::ResponseHeaderTimeout,
            HttpError::Timeout(TimeoutPhase::Idle) => ErrorCode::IdleTimeout,
            HttpError::Timeout(TimeoutPhase::Total) => ErrorCode::DeadlineExceeded,
            HttpError::Terminated(_) => ErrorCode::ConnectionTerminated,
            HttpError::TlsCertificate(_) => ErrorCode::TlsCertificateError,
            HttpError::TlsProtocol(_) => ErrorCode::TlsProtocolError,
            HttpError::Incomplete => ErrorCode::ResponseIncomplete,
            HttpError::Parse(p) => p.code(),
            HttpError::BodyTooLarge => ErrorCode::ResponseBodyTooLarge,
            HttpError::Io(_) => ErrorCode::ConnectionError,
        }
    }

    /// Classifies an I/O error from a socket or a TLS stream. `timeout` is the phase whose
    /// budget was armed for the failed call.
    pub(crate) fn from_io(err: io::Error, timeout: TimeoutPhase) -> HttpError {
        if let Some(tls) = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return HttpError::from_tls(tls.clone());
        }
        match err.kind() {
            // std reports an expired socket timeout as either, depending on the platform.
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HttpError::Timeout(timeout),
            io::ErrorKind::UnexpectedEof => HttpError::Incomplete,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => HttpError::Terminated(err),
            _ => HttpError::Io(err),
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

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::InvalidUrl(why) => write!(f, "invalid URL: {why}"),
            HttpError::InvalidHeaderBlock(why) => write!(f, "invalid header block: {why}"),
            HttpError::ForbiddenHeader(name) => write!(f, "header `{name}` is set by the host"),
            HttpError::Dns(e) => write!(f, "name resolution failed: {e}"),
            HttpError::Terminated(e) => write!(f, "connection terminated: {e}"),
            HttpError::TlsCertificate(e) | HttpError::TlsProtocol(e) => write!(f, "TLS: {e}"),
            HttpError::Parse(p) => write!(f, "malformed response: {p:?}"),
            HttpError::Io(e) => write!(f, "I/O error: {e}"),
            other => write!(f, "{}", other.code().name()),
        }
    }
}
