/*
 * wasi_experimental_http.h: C bindings for the `wasi_experimental_http` host ABI.
 *
 * One header, no allocation, no other dependency than <stdint.h>, <stddef.h> and <string.h>.
 * The normative specification is abi.md in the same repository; every function below says
 * which part of it it wraps. Compile for wasm32-wasi, for example with Debian's clang:
 *
 *     clang --target=wasm32-wasi -Oz -o get.wasm get.c
 *
 * Three layers:
 *   1. the raw imports (weh_req, weh_close, weh_header_get, weh_headers_get_all,
 *      weh_body_read), exactly abi.md's C synopses: (pointer, length) pairs, uint32_t results;
 *   2. the error codes (enum weh_error) with weh_error_name() and weh_strerror();
 *   3. thin helpers over caller-provided buffers (weh_get, weh_request, weh_header,
 *      weh_read, weh_read_all) taking NUL-terminated strings where that is convenient.
 *
 * Every function returns an error code: WEH_SUCCESS (0) or one of enum weh_error. A host newer
 * than this header may return a code above WEH_LAST: treat it as a generic failure.
 */
#ifndef WASI_EXPERIMENTAL_HTTP_H
#define WASI_EXPERIMENTAL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef __wasm32__
#error "wasi_experimental_http.h is for wasm32 guests (clang --target=wasm32-wasi)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. The raw imports (abi.md, "Function reference", SYNOPSIS) ---------------------- */

#define WEH_IMPORT(n) __attribute__((import_module("wasi_experimental_http"), import_name(n)))

/* Sends one request and waits for the final response head; on success writes the status (u16)
 * to status_code_ptr and a new handle (u32) to handle_ptr. */
WEH_IMPORT("req")
uint32_t weh_req(const uint8_t *url_ptr, uint32_t url_len,
                 const uint8_t *method_ptr, uint32_t method_len,
                 const uint8_t *headers_ptr, uint32_t headers_len,
                 const uint8_t *body_ptr, uint32_t body_len,
                 uint16_t *status_code_ptr, uint32_t *handle_ptr);

/* Releases a response handle. */
WEH_IMPORT("close")
uint32_t weh_close(uint32_t handle);

/* Copies the value of one response header field (repeated fields joined with ", "); on
 * WEH_BUFFER_TOO_SMALL writes the needed length to written_ptr. */
WEH_IMPORT("header_get")
uint32_t weh_header_get(uint32_t handle,
                        const uint8_t *name_ptr, uint32_t name_len,
                        uint8_t *buf_ptr, uint32_t buf_len,
                        uint32_t *written_ptr);

/* Copies the whole response header section as "name:value\n" lines; on WEH_BUFFER_TOO_SMALL
 * writes the needed length to written_ptr. */
WEH_IMPORT("headers_get_all")
uint32_t weh_headers_get_all(uint32_t handle,
                             uint8_t *buf_ptr, uint32_t buf_len,
                             uint32_t *written_ptr);

/* Copies the next decoded body bytes; *written_ptr is 0 exactly at the end of the body. */
WEH_IMPORT("body_read")
uint32_t weh_body_read(uint32_t handle,
                       uint8_t *buf_ptr, uint32_t buf_len,
                       uint32_t *written_ptr);

/* ---- 2. Error codes (abi.md, "Error codes") ---------------------------------------------- */

/* Every code of abi.md's table, under its name in upper case with a WEH_ prefix. */
enum weh_error {
    WEH_SUCCESS = 0,
    WEH_INVALID_HANDLE = 1,
    WEH_MEMORY_NOT_FOUND = 2,
    WEH_MEMORY_ACCESS_ERROR = 3,
    WEH_BUFFER_TOO_SMALL = 4,
    WEH_HEADER_NOT_FOUND = 5,
    WEH_UTF8_ERROR = 6,
    WEH_DESTINATION_NOT_ALLOWED = 7,
    WEH_INVALID_METHOD = 8,
    WEH_INVALID_ENCODING = 9,
    WEH_INVALID_URL = 10,
    WEH_REQUEST_ERROR = 11,
    WEH_RUNTIME_ERROR = 12,
    WEH_TOO_MANY_SESSIONS = 13,
    WEH_DNS_ERROR = 14,
    WEH_DESTINATION_IP_PROHIBITED = 15,
    WEH_CONNECTION_REFUSED = 16,
    WEH_CONNECTION_TIMEOUT = 17,
    WEH_CONNECTION_TERMINATED = 18,
    WEH_TLS_CERTIFICATE_ERROR = 19,
    WEH_TLS_PROTOCOL_ERROR = 20,
    WEH_RESPONSE_HEADER_TIMEOUT = 21,
    WEH_IDLE_TIMEOUT = 22,
    WEH_DEADLINE_EXCEEDED = 23,
    WEH_RESPONSE_INCOMPLETE = 24,
    WEH_RESPONSE_HEADER_LINE_TOO_LONG = 25,
    WEH_RESPONSE_HEADER_SECTION_TOO_LARGE = 26,
    WEH_RESPONSE_TOO_MANY_HEADERS = 27,
    WEH_RESPONSE_CHUNK_LINE_TOO_LONG = 28,
    WEH_RESPONSE_BODY_TOO_LARGE = 29,
    WEH_REQUEST_BODY_TOO_LARGE = 30,
    WEH_REQUEST_HEADERS_TOO_LARGE = 31,
    WEH_RESPONSE_MALFORMED = 32,
    WEH_RESPONSE_TRANSFER_CODING_UNSUPPORTED = 33,
    WEH_FORBIDDEN_HEADER = 34,
    WEH_CONNECTION_ERROR = 35,
    WEH_INTERRUPTED = 36,
    WEH_QUOTA_EXCEEDED = 37,
    WEH_PROXY_CONNECTION_FAILED = 38,
    WEH_PROXY_TUNNEL_REFUSED = 39,
    WEH_PROXY_AUTH_REQUIRED = 40,
    WEH_PROXY_RESPONSE_MALFORMED = 41,
};

/* The highest code this header knows. */
#define WEH_LAST WEH_PROXY_RESPONSE_MALFORMED

/* The abi.md name of a code ("buffer_too_small"), or "unknown" for a code above WEH_LAST. */
static inline const char *weh_error_name(uint32_t code) {
    switch (code) {
    case WEH_SUCCESS: return "success";
    case WEH_INVALID_HANDLE: return "invalid_handle";
    case WEH_MEMORY_NOT_FOUND: return "memory_not_found";
    case WEH_MEMORY_ACCESS_ERROR: return "memory_access_error";
    case WEH_BUFFER_TOO_SMALL: return "buffer_too_small";
    case WEH_HEADER_NOT_FOUND: return "header_not_found";
    case WEH_UTF8_ERROR: return "utf8_error";
    case WEH_DESTINATION_NOT_ALLOWED: return "destination_not_allowed";
    case WEH_INVALID_METHOD: return "invalid_method";
    case WEH_INVALID_ENCODING: return "invalid_encoding";
    case WEH_INVALID_URL: return "invalid_url";
    case WEH_REQUEST_ERROR: return "request_error";
    case WEH_RUNTIME_ERROR: return "runtime_error";
    case WEH_TOO_MANY_SESSIONS: return "too_many_sessions";
    case WEH_DNS_ERROR: return "dns_error";
    case WEH_DESTINATION_IP_PROHIBITED: return "destination_ip_prohibited";
    case WEH_CONNECTION_REFUSED: return "connection_refused";
    case WEH_CONNECTION_TIMEOUT: return "connection_timeout";
    case WEH_CONNECTION_TERMINATED: return "connection_terminated";
    case WEH_TLS_CERTIFICATE_ERROR: return "tls_certificate_error";
    case WEH_TLS_PROTOCOL_ERROR: return "tls_protocol_error";
    case WEH_RESPONSE_HEADER_TIMEOUT: return "response_header_timeout";
    case WEH_IDLE_TIMEOUT: return "idle_timeout";
    case WEH_DEADLINE_EXCEEDED: return "deadline_exceeded";
    case WEH_RESPONSE_INCOMPLETE: return "response_incomplete";
    case WEH_RESPONSE_HEADER_LINE_TOO_LONG: return "response_header_line_too_long";
    case WEH_RESPONSE_HEADER_SECTION_TOO_LARGE: return "response_header_section_too_large";
    case WEH_RESPONSE_TOO_MANY_HEADERS: return "response_too_many_headers";
    case WEH_RESPONSE_CHUNK_LINE_TOO_LONG: return "response_chunk_line_too_long";
    case WEH_RESPONSE_BODY_TOO_LARGE: return "response_body_too_large";
    case WEH_REQUEST_BODY_TOO_LARGE: return "request_body_too_large";
    case WEH_REQUEST_HEADERS_TOO_LARGE: return "request_headers_too_large";
    case WEH_RESPONSE_MALFORMED: return "response_malformed";
    case WEH_RESPONSE_TRANSFER_CODING_UNSUPPORTED: return "response_transfer_coding_unsupported";
    case WEH_FORBIDDEN_HEADER: return "forbidden_header";
    case WEH_CONNECTION_ERROR: return "connection_error";
    case WEH_INTERRUPTED: return "interrupted";
    case WEH_QUOTA_EXCEEDED: return "quota_exceeded";
    case WEH_PROXY_CONNECTION_FAILED: return "proxy_connection_failed";
    case WEH_PROXY_TUNNEL_REFUSED: return "proxy_tunnel_refused";
    case WEH_PROXY_AUTH_REQUIRED: return "proxy_auth_required";
    case WEH_PROXY_RESPONSE_MALFORMED: return "proxy_response_malformed";
    default: return "unknown";
    }
}

/* A readable sentence for a code, like strerror(3). */
static inline const char *weh_strerror(uint32_t code) {
    switch (code) {
    case WEH_SUCCESS: return "the call succeeded";
    case WEH_INVALID_HANDLE: return "the response handle is not open (never returned by req, or already closed)";
    case WEH_MEMORY_NOT_FOUND: return "the module exports no linear memory named `memory`";
    case WEH_MEMORY_ACCESS_ERROR: return "a buffer or output location lies outside the module's memory";
    case WEH_BUFFER_TOO_SMALL: return "the buffer is too small for the result";
    case WEH_HEADER_NOT_FOUND: return "the response has no header with that name";
    case WEH_UTF8_ERROR: return "the URL, method, header block or header name is not valid UTF-8";
    case WEH_DESTINATION_NOT_ALLOWED: return "the host's allow-list does not admit the URL's origin";
    case WEH_INVALID_METHOD: return "the method is empty, longer than 64 bytes, not a token, CONNECT or TRACE";
    case WEH_INVALID_ENCODING: return "a request header line or a header name is malformed";
    case WEH_INVALID_URL: return "the URL is not a valid absolute http or https URL";
    case WEH_REQUEST_ERROR: return "sending the request failed";
    case WEH_RUNTIME_ERROR: return "the host failed internally";
    case WEH_TOO_MANY_SESSIONS: return "too many responses are open at once; close one first";
    case WEH_DNS_ERROR: return "the host name did not resolve";
    case WEH_DESTINATION_IP_PROHIBITED: return "the host's address policy refused every address of the host name";
    case WEH_CONNECTION_REFUSED: return "the server refused the connection";
    case WEH_CONNECTION_TIMEOUT: return "the TCP connection was not established in time";
    case WEH_CONNECTION_TERMINATED: return "the server closed the connection before responding";
    case WEH_TLS_CERTIFICATE_ERROR: return "the server's TLS certificate is not valid for this host";
    case WEH_TLS_PROTOCOL_ERROR: return "the TLS handshake or a TLS record failed";
    case WEH_RESPONSE_HEADER_TIMEOUT: return "the response headers did not arrive in time";
    case WEH_IDLE_TIMEOUT: return "the connection made no progress for the idle timeout";
    case WEH_DEADLINE_EXCEEDED: return "the request's overall deadline passed";
    case WEH_RESPONSE_INCOMPLETE: return "the connection ended before the end of the response";
    case WEH_RESPONSE_HEADER_LINE_TOO_LONG: return "a response header line is longer than the host's limit";
    case WEH_RESPONSE_HEADER_SECTION_TOO_LARGE: return "the response headers are larger than the host's limit";
    case WEH_RESPONSE_TOO_MANY_HEADERS: return "the response has more header fields than the host's limit";
    case WEH_RESPONSE_CHUNK_LINE_TOO_LONG: return "a chunk-size line of the response is longer than the host's limit";
    case WEH_RESPONSE_BODY_TOO_LARGE: return "the response body is larger than the host's limit";
    case WEH_REQUEST_BODY_TOO_LARGE: return "the request body is larger than the host's limit";
    case WEH_REQUEST_HEADERS_TOO_LARGE: return "the request header block is larger than the host's limit";
    case WEH_RESPONSE_MALFORMED: return "the server sent a malformed HTTP/1.1 response";
    case WEH_RESPONSE_TRANSFER_CODING_UNSUPPORTED: return "the response uses a transfer coding other than chunked";
    case WEH_FORBIDDEN_HEADER: return "the request sets a header the host owns (Host, Content-Length, Connection, ...)";
    case WEH_CONNECTION_ERROR: return "a network error occurred on the connection";
    case WEH_INTERRUPTED: return "the embedder interrupted the request";
    case WEH_QUOTA_EXCEEDED: return "a quota set by the embedder is used up";
    case WEH_PROXY_CONNECTION_FAILED: return "the egress proxy could not be reached";
    case WEH_PROXY_TUNNEL_REFUSED: return "the egress proxy refused the tunnel";
    case WEH_PROXY_AUTH_REQUIRED: return "the egress proxy requires authentication";
    case WEH_PROXY_RESPONSE_MALFORMED: return "the egress proxy sent a malformed response";
    default: return "an error this header does not know (a newer host?)";
    }
}

/* ---- 3. Helpers over caller buffers --------------------------------------------------------- */

/* Sends `method` to `url` with an optional header block ("Name:value\n" lines, or NULL) and
 * body (NULL and 0 for none). url, method and headers are NUL-terminated. */
static inline uint32_t weh_request(const char *url, const char *method, const char *headers,
                                   const void *body, size_t body_len,
                                   uint16_t *status, uint32_t *handle) {
    return weh_req((const uint8_t *)url, (uint32_t)strlen(url),
                   (const uint8_t *)method, (uint32_t)strlen(method),
                   (const uint8_t *)headers, headers ? (uint32_t)strlen(headers) : 0,
                   (const uint8_t *)body, (uint32_t)body_len, status, handle);
}

/* GET `url` (NUL-terminated) with no headers. */
static inline uint32_t weh_get(const char *url, uint16_t *status, uint32_t *handle) {
    return weh_req((const uint8_t *)url, (uint32_t)strlen(url), (const uint8_t *)"GET", 3,
                   NULL, 0, NULL, 0, status, handle);
}

/* The value of header `name` (NUL-terminated) as a NUL-terminated string in buf[0..cap].
 * On success *len (if not NULL) is the value's length without the terminator. If the value and
 * its terminator do not fit, returns WEH_BUFFER_TOO_SMALL with *len the value's length, so a
 * buffer of *len + 1 bytes fits; buf is then untouched. */
static inline uint32_t weh_header(uint32_t handle, const char *name, char *buf, size_t cap,
                                  size_t *len) {
    uint32_t n = 0;
    uint32_t room = cap > 0 ? (uint32_t)(cap - 1) : 0;
    uint32_t err = weh_header_get(handle, (const uint8_t *)name, (uint32_t)strlen(name),
                                  (uint8_t *)buf, room, &n);
    if (err == WEH_SUCCESS || err == WEH_BUFFER_TOO_SMALL) {
        if (len) *len = n;
    }
    if (err == WEH_SUCCESS && cap == 0) return WEH_BUFFER_TOO_SMALL; /* no room for the NUL */
    if (err == WEH_SUCCESS) buf[n] = '\0';
    return err;
}

/* Reads the next body bytes into buf[0..cap] (cap >= 1); *n is 0 exactly at the end. */
static inline uint32_t weh_read(uint32_t handle, void *buf, size_t cap, size_t *n) {
    uint32_t got = 0;
    uint32_t err = weh_body_read(handle, (uint8_t *)buf, (uint32_t)cap, &got);
    if (err == WEH_SUCCESS) *n = got;
    return err;
}

/* Reads the body into buf[0..cap] until its end. *n is the number of bytes stored, also on an
 * error. When the buffer fills up, returns WEH_BUFFER_TOO_SMALL with *n == cap and the rest of
 * the body still readable with weh_read; that includes a body of exactly cap bytes, whose next
 * weh_read then reports the end (n == 0): knowing the end would cost a byte of the buffer. */
static inline uint32_t weh_read_all(uint32_t handle, void *buf, size_t cap, size_t *n) {
    uint8_t *p = (uint8_t *)buf;
    size_t total = 0;
    for (;;) {
        size_t got = 0;
        uint32_t err;
        if (total == cap) {
            /* Full: is there more? A 1-byte probe would consume a byte, so say so instead. */
            *n = total;
            return WEH_BUFFER_TOO_SMALL;
        }
        err = weh_read(handle, p + total, cap - total, &got);
        if (err != WEH_SUCCESS) {
            *n = total;
            return err;
        }
        if (got == 0) {
            *n = total;
            return WEH_SUCCESS;
        }
        total += got;
    }
}

#ifdef __cplusplus
}
#endif

#endif /* WASI_EXPERIMENTAL_HTTP_H */
