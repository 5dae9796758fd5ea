// The error codes of the `wasi_experimental_http` ABI, exactly as abi.md's "Error codes" table
// lists them. The end-to-end drift test (tests/tests/abi_drift.rs) parses the
// `export const NAME: u32 = N;` lines below and every `case ErrorCode.NAME:` of `errorMessage`
// and fails if they differ from abi.md in any number, name or count.

/** Every code a `wasi_experimental_http` function can return. 0 is success. */
export namespace ErrorCode {
  export const SUCCESS: u32 = 0;
  export const INVALID_HANDLE: u32 = 1;
  export const MEMORY_NOT_FOUND: u32 = 2;
  export const MEMORY_ACCESS_ERROR: u32 = 3;
  export const BUFFER_TOO_SMALL: u32 = 4;
  export const HEADER_NOT_FOUND: u32 = 5;
  export const UTF8_ERROR: u32 = 6;
  export const DESTINATION_NOT_ALLOWED: u32 = 7;
  export const INVALID_METHOD: u32 = 8;
  export const INVALID_ENCODING: u32 = 9;
  export const INVALID_URL: u32 = 10;
  export const REQUEST_ERROR: u32 = 11;
  export const RUNTIME_ERROR: u32 = 12;
  export const TOO_MANY_SESSIONS: u32 = 13;
  export const DNS_ERROR: u32 = 14;
  export const DESTINATION_IP_PROHIBITED: u32 = 15;
  export const CONNECTION_REFUSED: u32 = 16;
  export const CONNECTION_TIMEOUT: u32 = 17;
  export const CONNECTION_TERMINATED: u32 = 18;
  export const TLS_CERTIFICATE_ERROR: u32 = 19;
  export const TLS_PROTOCOL_ERROR: u32 = 20;
  export const RESPONSE_HEADER_TIMEOUT: u32 = 21;
  export const IDLE_TIMEOUT: u32 = 22;
  export const DEADLINE_EXCEEDED: u32 = 23;
  export const RESPONSE_INCOMPLETE: u32 = 24;
  export const RESPONSE_HEADER_LINE_TOO_LONG: u32 = 25;
  export const RESPONSE_HEADER_SECTION_TOO_LARGE: u32 = 26;
  export const RESPONSE_TOO_MANY_HEADERS: u32 = 27;
  export const RESPONSE_CHUNK_LINE_TOO_LONG: u32 = 28;
  export const RESPONSE_BODY_TOO_LARGE: u32 = 29;
  export const REQUEST_BODY_TOO_LARGE: u32 = 30;
  export const REQUEST_HEADERS_TOO_LARGE: u32 = 31;
  export const RESPONSE_MALFORMED: u32 = 32;
  export const RESPONSE_TRANSFER_CODING_UNSUPPORTED: u32 = 33;
  export const FORBIDDEN_HEADER: u32 = 34;
  export const CONNECTION_ERROR: u32 = 35;
  export const INTERRUPTED: u32 = 36;
  export const QUOTA_EXCEEDED: u32 = 37;
  export const PROXY_CONNECTION_FAILED: u32 = 38;
  export const PROXY_TUNNEL_REFUSED: u32 = 39;
  export const PROXY_AUTH_REQUIRED: u32 = 40;
  export const PROXY_RESPONSE_MALFORMED: u32 = 41;
}

/** The abi.md name of `code` (`"buffer_too_small"`), or `"unknown"` for a code this package does
 * not know (a newer host may return new codes; treat them as a generic failure). */
export function errorName(code: u32): string {
  switch (code) {
    case ErrorCode.SUCCESS: return "success";
    case ErrorCode.INVALID_HANDLE: return "invalid_handle";
    case ErrorCode.MEMORY_NOT_FOUND: return "memory_not_found";
    case ErrorCode.MEMORY_ACCESS_ERROR: return "memory_access_error";
    case ErrorCode.BUFFER_TOO_SMALL: return "buffer_too_small";
    case ErrorCode.HEADER_NOT_FOUND: return "header_not_found";
    case ErrorCode.UTF8_ERROR: return "utf8_error";
    case ErrorCode.DESTINATION_NOT_ALLOWED: return "destination_not_allowed";
    case ErrorCode.INVALID_METHOD: return "invalid_method";
    case ErrorCode.INVALID_ENCODING: return "invalid_encoding";
    case ErrorCode.INVALID_URL: return "invalid_url";
    case ErrorCode.REQUEST_ERROR: return "request_error";
    case ErrorCode.RUNTIME_ERROR: return "runtime_error";
    case ErrorCode.TOO_MANY_SESSIONS: return "too_many_sessions";
    case ErrorCode.DNS_ERROR: return "dns_error";
    case ErrorCode.DESTINATION_IP_PROHIBITED: return "destination_ip_prohibited";
    case ErrorCode.CONNECTION_REFUSED: return "connection_refused";
    case ErrorCode.CONNECTION_TIMEOUT: return "connection_timeout";
    case ErrorCode.CONNECTION_TERMINATED: return "connection_terminated";
    case ErrorCode.TLS_CERTIFICATE_ERROR: return "tls_certificate_error";
    case ErrorCode.TLS_PROTOCOL_ERROR: return "tls_protocol_error";
    case ErrorCode.RESPONSE_HEADER_TIMEOUT: return "response_header_timeout";
    case ErrorCode.IDLE_TIMEOUT: return "idle_timeout";
    case ErrorCode.DEADLINE_EXCEEDED: return "deadline_exceeded";
    case ErrorCode.RESPONSE_INCOMPLETE: return "response_incomplete";
    case ErrorCode.RESPONSE_HEADER_LINE_TOO_LONG: return "response_header_line_too_long";
    case ErrorCode.RESPONSE_HEADER_SECTION_TOO_LARGE: return "response_header_section_too_large";
    case ErrorCode.RESPONSE_TOO_MANY_HEADERS: return "response_too_many_headers";
    case ErrorCode.RESPONSE_CHUNK_LINE_TOO_LONG: return "response_chunk_line_too_long";
    case ErrorCode.RESPONSE_BODY_TOO_LARGE: return "response_body_too_large";
    case ErrorCode.REQUEST_BODY_TOO_LARGE: return "request_body_too_large";
    case ErrorCode.REQUEST_HEADERS_TOO_LARGE: return "request_headers_too_large";
    case ErrorCode.RESPONSE_MALFORMED: return "response_malformed";
    case ErrorCode.RESPONSE_TRANSFER_CODING_UNSUPPORTED: return "response_transfer_coding_unsupported";
    case ErrorCode.FORBIDDEN_HEADER: return "forbidden_header";
    case ErrorCode.CONNECTION_ERROR: return "connection_error";
    case ErrorCode.INTERRUPTED: return "interrupted";
    case ErrorCode.QUOTA_EXCEEDED: return "quota_exceeded";
    case ErrorCode.PROXY_CONNECTION_FAILED: return "proxy_connection_failed";
    case ErrorCode.PROXY_TUNNEL_REFUSED: return "proxy_tunnel_refused";
    case ErrorCode.PROXY_AUTH_REQUIRED: return "proxy_auth_required";
    case ErrorCode.PROXY_RESPONSE_MALFORMED: return "proxy_response_malformed";
    default: return "unknown";
  }
}

/** A readable sentence for `code`, from abi.md's table; for a code this package does not know,
 * a sentence saying so. */
export function errorMessage(code: u32): string {
  switch (code) {
    case ErrorCode.SUCCESS: return "the call succeeded";
    case ErrorCode.INVALID_HANDLE: return "the response handle is not open (never returned by req, or already closed)";
    case ErrorCode.MEMORY_NOT_FOUND: return "the module exports no linear memory named `memory`";
    case ErrorCode.MEMORY_ACCESS_ERROR: return "a buffer or output location lies outside the module's memory";
    case ErrorCode.BUFFER_TOO_SMALL: return "the buffer is too small for the result";
    case ErrorCode.HEADER_NOT_FOUND: return "the response has no header with that name";
    case ErrorCode.UTF8_ERROR: return "the URL, method, header block or header name is not valid UTF-8";
    case ErrorCode.DESTINATION_NOT_ALLOWED: return "the host's allow-list does not admit the URL's origin";
    case ErrorCode.INVALID_METHOD: return "the method is empty, longer than 64 bytes, not a token, or CONNECT";
    case ErrorCode.INVALID_ENCODING: return "a request header line or a header name is malformed";
    case ErrorCode.INVALID_URL: return "the URL is not a valid absolute http or https URL";
    case ErrorCode.REQUEST_ERROR: return "sending the request failed";
    case ErrorCode.RUNTIME_ERROR: return "the host failed internally";
    case ErrorCode.TOO_MANY_SESSIONS: return "too many responses are open at once; close one first";
    case ErrorCode.DNS_ERROR: return "the host name did not resolve";
    case ErrorCode.DESTINATION_IP_PROHIBITED: return "the host's address policy refused every address of the host name";
    case ErrorCode.CONNECTION_REFUSED: return "the server refused the connection";
    case ErrorCode.CONNECTION_TIMEOUT: return "the TCP connection was not established in time";
    case ErrorCode.CONNECTION_TERMINATED: return "the server closed the connection before responding";
    case ErrorCode.TLS_CERTIFICATE_ERROR: return "the server's TLS certificate is not valid for this host";
    case ErrorCode.TLS_PROTOCOL_ERROR: return "the TLS handshake or a TLS record failed";
    case ErrorCode.RESPONSE_HEADER_TIMEOUT: return "the response headers did not arrive in time";
    case ErrorCode.IDLE_TIMEOUT: return "the connection made no progress for the idle timeout";
    case ErrorCode.DEADLINE_EXCEEDED: return "the request's overall deadline passed";
    case ErrorCode.RESPONSE_INCOMPLETE: return "the connection ended before the end of the response";
    case ErrorCode.RESPONSE_HEADER_LINE_TOO_LONG: return "a response header line is longer than the host's limit";
    case ErrorCode.RESPONSE_HEADER_SECTION_TOO_LARGE: return "the response headers are larger than the host's limit";
    case ErrorCode.RESPONSE_TOO_MANY_HEADERS: return "the response has more header fields than the host's limit";
    case ErrorCode.RESPONSE_CHUNK_LINE_TOO_LONG: return "a chunk-size line of the response is longer than the host's limit";
    case ErrorCode.RESPONSE_BODY_TOO_LARGE: return "the response body is larger than the host's limit";
    case ErrorCode.REQUEST_BODY_TOO_LARGE: return "the request body is larger than the host's limit";
    case ErrorCode.REQUEST_HEADERS_TOO_LARGE: return "the request header block is larger than the host's limit";
    case ErrorCode.RESPONSE_MALFORMED: return "the server sent a malformed HTTP/1.1 response";
    case ErrorCode.RESPONSE_TRANSFER_CODING_UNSUPPORTED: return "the response uses a transfer coding other than chunked";
    case ErrorCode.FORBIDDEN_HEADER: return "the request sets a header the host owns (Host, Content-Length, Connection, ...)";
    case ErrorCode.CONNECTION_ERROR: return "a network error occurred on the connection";
    case ErrorCode.INTERRUPTED: return "the embedder interrupted the request";
    case ErrorCode.QUOTA_EXCEEDED: return "a quota set by the embedder is used up";
    case ErrorCode.PROXY_CONNECTION_FAILED: return "the egress proxy could not be reached";
    case ErrorCode.PROXY_TUNNEL_REFUSED: return "the egress proxy refused the tunnel";
    case ErrorCode.PROXY_AUTH_REQUIRED: return "the egress proxy requires authentication";
    case ErrorCode.PROXY_RESPONSE_MALFORMED: return "the egress proxy sent a malformed response";
    default: return "an error this package does not know (a newer host?)";
  }
}
