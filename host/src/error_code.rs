//! The ABI's error codes: the single source of truth for their numbers.
//!
//! `abi.md` carries the same table; `tests/tests/abi_drift.rs` checks that both agree.
//! Codes 0..=13 keep the meanings of the 0.10 ABI; later codes are appended, never renumbered.

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $num:literal, $name:literal; )*) => {
        /// An error code returned by every function of the `wasi_experimental_http` module.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant = $num, )*
        }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The code's snake_case name, as written in `abi.md`.
            pub const fn name(self) -> &'static str {
                match self { $( ErrorCode::$variant => $name, )* }
            }

            /// The code's number, as returned to the guest.
            pub const fn code(self) -> u32 {
                self as u32
            }

            /// The code with this number, if there is one.
            pub fn from_code(code: u32) -> Option<ErrorCode> {
                Self::ALL.iter().copied().find(|c| c.code() == code)
            }
        }
    };
}

error_codes! {
    /// The call succeeded.
    Success = 0, "success";
    /// The handle is unknown to this store, or was already closed.
    InvalidHandle = 1, "invalid_handle";
    /// The module exports no memory named `memory`.
    MemoryNotFound = 2, "memory_not_found";
    /// A `(ptr, len)` range or an output location lies outside guest memory.
    MemoryAccessError = 3, "memory_access_error";
    /// The output buffer is too small; the needed length is reported where the function says so.
    BufferTooSmall = 4, "buffer_too_small";
    /// The response has no header field of that name.
    HeaderNotFound = 5, "header_not_found";
    /// A string argument is not valid UTF-8.
    Utf8Error = 6, "utf8_error";
    /// The allow-list does not admit the URL's origin.
    DestinationNotAllowed = 7, "destination_not_allowed";
    /// The method is empty, not a token, too long, or `CONNECT`.
    InvalidMethod = 8, "invalid_method";
    /// The header block or a header name is malformed.
    InvalidEncoding = 9, "invalid_encoding";
    /// The URL is not an absolute `http`/`https` URL this host accepts.
    InvalidUrl = 10, "invalid_url";
    /// Sending the request failed for a reason no finer code describes.
    RequestError = 11, "request_error";
    /// The host failed internally.
    RuntimeError = 12, "runtime_error";
    /// The store already has `max_concurrent_requests` open responses.
    TooManySessions = 13, "too_many_sessions";
    /// The host name did not resolve to any address.
    DnsError = 14, "dns_error";
    /// Every resolved address was refused by the address policy.
    DestinationIpProhibited = 15, "destination_ip_prohibited";
    /// Every address refused the TCP connection.
    ConnectionRefused = 16, "connection_refused";
    /// No TCP connection completed within the connect timeout.
    ConnectionTimeout = 17, "connection_timeout";
    /// The peer closed or reset the connection before the response started.
    ConnectionTerminated = 18, "connection_terminated";
    /// The server's certificate was rejected.
    TlsCertificateError = 19, "tls_certificate_error";
    /// The TLS handshake or a TLS record failed for a reason other than the certificate.
    TlsProtocolError = 20, "tls_protocol_error";
    /// The response header section did not arrive within the header timeout.
    ResponseHeaderTimeout = 21, "response_header_timeout";
    /// The connection made no progress for the idle timeout.
    IdleTimeout = 22, "idle_timeout";
    /// The overall per-request deadline passed.
    DeadlineExceeded = 23, "deadline_exceeded";
    /// The connection ended before the response was complete.
    ResponseIncomplete = 24, "response_incomplete";
    /// The status line or a header field line exceeds the line limit.
    ResponseHeaderLineTooLong = 25, "response_header_line_too_long";
    /// The header or trailer section exceeds the section size limit.
    ResponseHeaderSectionTooLarge = 26, "response_header_section_too_large";
    /// The response has more header fields than the limit.
    ResponseTooManyHeaders = 27, "response_too_many_headers";
    /// A chunk-size line exceeds the chunk line limit.
    ResponseChunkLineTooLong = 28, "response_chunk_line_too_long";
    /// The response body exceeds the configured maximum body size.
    ResponseBodyTooLarge = 29, "response_body_too_large";
    /// The guest's request body exceeds the request body limit.
    RequestBodyTooLarge = 30, "request_body_too_large";
    /// The guest's header block exceeds the request header limit.
    RequestHeadersTooLarge = 31, "request_headers_too_large";
    /// The server violated HTTP/1.1 framing or syntax.
    ResponseMalformed = 32, "response_malformed";
    /// The response uses a transfer coding other than `chunked`.
    ResponseTransferCodingUnsupported = 33, "response_transfer_coding_unsupported";
    /// The guest supplied a header the host owns.
    ForbiddenHeader = 34, "forbidden_header";
    /// Another network error (unreachable network, ...).
    ConnectionError = 35, "connection_error";
    /// The embedder interrupted this store's network activity.
    Interrupted = 36, "interrupted";
    /// A quota the embedder set is used up (`req`: before anything is sent; `body_read`: once
    /// the received-bytes quota is delivered).
    QuotaExceeded = 37, "quota_exceeded";
    /// The host could not reach the egress proxy: its name did not resolve, the address
    /// policy refused its address, or the TCP connection failed, or the proxy hung up before
    /// answering `CONNECT`.
    ProxyConnectionFailed = 38, "proxy_connection_failed";
    /// The egress proxy answered `CONNECT` with a status other than 2xx and 407.
    ProxyTunnelRefused = 39, "proxy_tunnel_refused";
    /// The egress proxy answered 407: the credentials the embedder configured are missing or
    /// were rejected.
    ProxyAuthRequired = 40, "proxy_auth_required";
    /// The egress proxy's answer to `CONNECT` broke HTTP/1.1 syntax or a head limit.
    ProxyResponseMalformed = 41, "proxy_response_malformed";
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn numbers_are_dense_and_ordered() {
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(c.code() as usize, i, "{}", c.name());
            assert_eq!(ErrorCode::from_code(c.code()), Some(*c));
        }
    }
}
