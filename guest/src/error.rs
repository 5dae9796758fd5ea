//! The guest's view of the ABI's error codes.
//!
//! The numbers and snake_case names are those of abi.md, "Error codes" (the host's `ErrorCode`
//! defines them); the drift test in `tests/tests/abi_drift.rs` checks that the three agree.
//!
//! Each code has exactly one spelling: a known code is always its own variant, and
//! [`Error::Unknown`] carries an [`UnknownCode`], which only [`Error::from_code`] can make and
//! only for a number this crate does not know.

use core::fmt;

macro_rules! error_enum {
    ($( $(#[$doc:meta])* $variant:ident = $num:literal, $name:literal, $msg:literal; )*) => {
        /// An error returned by a `wasi_experimental_http` host function.
        ///
        /// One variant per non-zero code of the ABI, plus [`Error::Unknown`] for a code this
        /// crate does not know (a newer host may append codes; codes are never renumbered).
        /// Every code has one spelling: `Error::Unknown` cannot hold a known code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Error {
            $( $(#[$doc])* $variant, )*
            /// A code this version of the crate does not know (never 0, never a code that has
            /// its own variant).
            Unknown(UnknownCode),
        }

        impl Error {
            /// Every known error, in numeric order (code 1 first).
            pub const ALL: &'static [Error] = &[ $( Error::$variant, )* ];

            /// The error's ABI code.
            pub const fn code(self) -> u32 {
                match self {
                    $( Error::$variant => $num, )*
                    Error::Unknown(code) => code.get(),
                }
            }

            /// The code's snake_case name, as the host and `abi.md` spell it
            /// (`"unknown"` for [`Error::Unknown`]).
            pub const fn name(self) -> &'static str {
                match self {
                    $( Error::$variant => $name, )*
                    Error::Unknown(_) => "unknown",
                }
            }

            /// A short human-readable description.
            const fn message(self) -> &'static str {
                match self {
                    $( Error::$variant => $msg, )*
                    Error::Unknown(_) => "unknown error",
                }
            }

            /// The error a host function's return code means, or `None` for 0 (success).
            ///
            /// Codes this crate does not know map to [`Error::Unknown`]; this is the only
            /// place an [`UnknownCode`] is made, so it never holds a known code.
            pub const fn from_code(code: u32) -> Option<Error> {
                match code {
                    0 => None,
                    $( $num => Some(Error::$variant), )*
                    other => Some(Error::Unknown(UnknownCode(other))),
                }
            }
        }
    };
}

error_enum! {
    /// The handle is unknown to this store, or was already closed.
    InvalidHandle = 1, "invalid_handle", "invalid handle";
    /// The module exports no memory named `memory`.
    MemoryNotFound = 2, "memory_not_found", "memory not found";
    /// A `(ptr, len)` range or an output location lies outside guest memory.
    MemoryAccessError = 3, "memory_access_error", "memory access error";
    /// The output buffer is too small (for headers the host reports the needed length).
    BufferTooSmall = 4, "buffer_too_small", "buffer too small";
    /// The response has no header field of that name.
    HeaderNotFound = 5, "header_not_found", "header not found";
    /// A string argument is not valid UTF-8.
    Utf8Error = 6, "utf8_error", "UTF-8 error";
    /// The host's allow-list does not admit the URL's origin.
    DestinationNotAllowed = 7, "destination_not_allowed", "destination not allowed";
    /// The method is empty, not a token, too long, or `CONNECT` or `TRACE`.
    InvalidMethod = 8, "invalid_method", "invalid method";
    /// The header block or a header name is malformed.
    InvalidEncoding = 9, "invalid_encoding", "invalid encoding";
    /// The URL is not an absolute `http`/`https` URL the host accepts.
    InvalidUrl = 10, "invalid_url", "invalid URL";
    /// Sending the request failed for a reason no finer code describes.
    RequestError = 11, "request_error", "request error";
    /// The host failed internally (also returned by this crate's native stubs).
    RuntimeError = 12, "runtime_error", "runtime error";
    /// The store already has the maximum number of open responses.
    TooManySessions = 13, "too_many_sessions", "too many sessions";
    /// The host name did not resolve to any address.
    DnsError = 14, "dns_error", "DNS error";
    /// Every resolved address was refused by the host's address policy.
    DestinationIpProhibited = 15, "destination_ip_prohibited", "destination IP prohibited";
    /// Every address refused the TCP connection.
    ConnectionRefused = 16, "connection_refused", "connection refused";
    /// No TCP connection completed within the connect timeout.
    ConnectionTimeout = 17, "connection_timeout", "connection timeout";
    /// The peer closed or reset the connection before the response started.
    ConnectionTerminated = 18, "connection_terminated", "connection terminated";
    /// The server's certificate was rejected.
    TlsCertificateError = 19, "tls_certificate_error", "TLS certificate error";
    /// The TLS handshake or a TLS record failed for a reason other than the certificate.
    TlsProtocolError = 20, "tls_protocol_error", "TLS protocol error";
    /// The response header section did not arrive within the header timeout.
    ResponseHeaderTimeout = 21, "response_header_timeout", "response header timeout";
    /// The connection made no progress for the idle timeout.
    IdleTimeout = 22, "idle_timeout", "idle timeout";
    /// The overall per-request deadline passed.
    DeadlineExceeded = 23, "deadline_exceeded", "deadline exceeded";
    /// The connection ended before the response was complete.
    ResponseIncomplete = 24, "response_incomplete", "response incomplete";
    /// The status line or a header field line exceeds the host's line limit.
    ResponseHeaderLineTooLong = 25, "response_header_line_too_long",
        "response header line too long";
    /// The header or trailer section exceeds the host's section size limit.
    ResponseHeaderSectionTooLarge = 26, "response_header_section_too_large",
        "response header section too large";
    /// The response has more header fields than the host's limit.
    ResponseTooManyHeaders = 27, "response_too_many_headers", "response has too many headers";
    /// A chunk-size line exceeds the host's chunk line limit.
    ResponseChunkLineTooLong = 28, "response_chunk_line_too_long",
        "response chunk line too long";
    /// The response body exceeds the host's configured maximum body size.
    ResponseBodyTooLarge = 29, "response_body_too_large", "response body too large";
    /// The request body exceeds the host's request body limit.
    RequestBodyTooLarge = 30, "request_body_too_large", "request body too large";
    /// The header block exceeds the host's request header limit.
    RequestHeadersTooLarge = 31, "request_headers_too_large", "request headers too large";
    /// The server violated HTTP/1.1 framing or syntax.
    ResponseMalformed = 32, "response_malformed", "malformed response";
    /// The response uses a transfer coding other than `chunked`.
    ResponseTransferCodingUnsupported = 33, "response_transfer_coding_unsupported",
        "unsupported response transfer coding";
    /// The request carried a header the host owns (`Host`, `Content-Length`, `Connection`, ...).
    ForbiddenHeader = 34, "forbidden_header", "forbidden header";
    /// Another network error (unreachable network, ...).
    ConnectionError = 35, "connection_error", "connection error";
    /// The embedder interrupted the host's network activity for this instance.
    Interrupted = 36, "interrupted", "interrupted by the host";
    /// A quota the embedder set for this instance (requests, bytes sent or received) is used
    /// up.
    QuotaExceeded = 37, "quota_exceeded", "quota exceeded";
    /// The host could not reach its egress proxy (name, address policy, connection).
    ProxyConnectionFailed = 38, "proxy_connection_failed", "proxy connection failed";
    /// The host's egress proxy refused to open a tunnel to the origin.
    ProxyTunnelRefused = 39, "proxy_tunnel_refused", "proxy refused the tunnel";
    /// The host's egress proxy rejected the host's credentials (407).
    ProxyAuthRequired = 40, "proxy_auth_required", "proxy authentication required";
    /// The host's egress proxy answered `CONNECT` with a malformed response.
    ProxyResponseMalformed = 41, "proxy_response_malformed", "malformed proxy response";
}

/// A nonzero code this version of the crate has no [`Error`] variant for (a newer host may
/// append codes; abi.md, "Versioning").
///
/// Only [`Error::from_code`] makes one, so it never holds 0 nor a known code: each code has one
/// spelling. Read the number with [`UnknownCode::get`] or [`Error::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownCode(u32);

impl UnknownCode {
    /// The code's number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl Error {
    /// `Ok(())` for code 0, otherwise the error the code means.
    pub const fn check(code: u32) -> Result<(), Error> {
        match Error::from_code(code) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// The original crate's name for its error type, kept so old code keeps compiling.
pub type HttpError = Error;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (wasi_experimental_http error {})",
            self.message(),
            self.code()
        )
    }
}

// `core::error::Error` is the same trait as `std::error::Error`, so std users get it too.
impl core::error::Error for Error {}

/// The error of reading a header value or the header block into a caller's buffer.
///
/// Kept apart from [`Error`] because a too-small buffer is an expected outcome that carries
/// data: the host reports how many bytes the value needs, so the caller can retry once with a
/// buffer of that size. Converts into [`Error`] (as [`Error::BufferTooSmall`]) for `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// The buffer was too small.
    BufferTooSmall {
        /// The length the value needs, as reported by the host; `None` when the host did not
        /// report one (hosts of the 0.10 ABI never do).
        needed: Option<usize>,
    },
    /// Any other error (never [`Error::BufferTooSmall`]).
    Other(Error),
}

impl HeaderError {
    /// The ABI error this stands for.
    pub const fn error(self) -> Error {
        match self {
            HeaderError::BufferTooSmall { .. } => Error::BufferTooSmall,
            HeaderError::Other(e) => e,
        }
    }

    /// The needed length, if this is a too-small buffer and the host reported it.
    pub const fn needed(self) -> Option<usize> {
        match self {
            HeaderError::BufferTooSmall { needed } => needed,
            HeaderError::Other(_) => None,
        }
    }
}

impl From<HeaderError> for Error {
    fn from(e: HeaderError) -> Error {
        e.error()
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::BufferTooSmall { needed: Some(n) } => {
                write!(f, "{} (needs {n} bytes)", Error::BufferTooSmall)
            }
            _ => fmt::Display::fmt(&self.error(), f),
        }
    }
}

impl core::error::Error for HeaderError {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::Error;

    #[test]
    fn codes_are_dense_and_round_trip() {
        assert_eq!(Error::ALL.len(), 41);
        for (i, e) in Error::ALL.iter().enumerate() {
            assert_eq!(e.code() as usize, i + 1, "{}", e.name());
            assert_eq!(Error::from_code(e.code()), Some(*e));
        }
    }

    #[test]
    fn zero_is_success_and_unknown_codes_are_kept() {
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::check(0), Ok(()));
        assert_eq!(Error::check(5), Err(Error::HeaderNotFound));
        let unknown = Error::from_code(42).unwrap();
        assert!(matches!(unknown, Error::Unknown(c) if c.get() == 42));
        assert_eq!(unknown.code(), 42);
        assert_eq!(Error::from_code(u32::MAX).unwrap().code(), u32::MAX);
        assert_eq!(Error::from_code(99).unwrap().name(), "unknown");
    }

    #[test]
    fn one_spelling_per_code() {
        // Every number maps to one value, and that value maps back to the same number: a known
        // code never comes back as `Unknown`.
        for code in (1..=44).chain([u32::MAX - 1, u32::MAX]) {
            let e = Error::from_code(code).unwrap();
            assert_eq!(e.code(), code);
            let known = Error::ALL.iter().any(|k| k.code() == code);
            assert_eq!(matches!(e, Error::Unknown(_)), !known, "{code}");
        }
    }

    #[test]
    fn names_match_the_abi_table() {
        // Spot checks against abi.md, "Error codes"; the full comparison with abi.md and the
        // host lives in the drift test (tests/tests/abi_drift.rs), which this crate cannot
        // depend on.
        assert_eq!(Error::InvalidHandle.name(), "invalid_handle");
        assert_eq!(Error::Utf8Error.name(), "utf8_error");
        assert_eq!(Error::TooManySessions.code(), 13);
        assert_eq!(
            Error::DestinationIpProhibited.name(),
            "destination_ip_prohibited"
        );
        assert_eq!(Error::ConnectionError.code(), 35);
        assert_eq!(Error::Interrupted.code(), 36);
        assert_eq!(Error::QuotaExceeded.code(), 37);
        assert_eq!(Error::ProxyResponseMalformed.code(), 41);
        let mut names: [&str; 41] = [""; 41];
        for (slot, e) in names.iter_mut().zip(Error::ALL) {
            *slot = e.name();
        }
        names.sort_unstable();
        assert!(
            names.windows(2).all(|w| w.first() != w.get(1)),
            "names are unique"
        );
    }

    #[test]
    fn display_names_the_code() {
        use std::string::ToString;
        assert_eq!(
            Error::HeaderNotFound.to_string(),
            "header not found (wasi_experimental_http error 5)"
        );
        assert_eq!(
            Error::from_code(77).unwrap().to_string(),
            "unknown error (wasi_experimental_http error 77)"
        );
    }
}
