// The raw `wasi_experimental_http` imports under the names of the original package's `raw.ts`,
// for programs that import `@deislabs/wasi-experimental-http/raw` (or
// `wasi-experimental-http/raw`): the five host functions as `req`, `close`, `headerGet`,
// `headersGetAll` and `bodyRead`, the `HttpError` codes, the handle, pointer and buffer type
// aliases, and the `WasiString` / `WasiSlice` / `WasiMutSlice` helpers. Every function takes
// pointers into linear memory and lengths in bytes and returns an `HttpError` (abi.md,
// SYNOPSIS); nothing here aborts. New code uses the package's index (`RequestBuilder`,
// `Response`, the `try*` calls) instead.

import { ErrorCode } from "./errors";

/** A host handle (the ABI passes it as an i32). */
export type WasiHandle = i32;
/** One byte of UTF-8 text. */
export type Char8 = u8;
/** One Unicode scalar value. */
export type Char32 = u32;
/** A pointer into linear memory to data of type `T` the host reads. */
export type WasiPtr<T> = usize;
/** A pointer into linear memory where the host writes data of type `T`. */
export type WasiMutPtr<T> = usize;
/** A pointer to the bytes of a UTF-8 string. */
export type WasiStringBytesPtr = WasiPtr<Char8>;

/** A string as the host reads it: a pointer to its UTF-8 bytes and their count. The bytes are
 * a copy outside the garbage-collected heap (a collection cannot move or free them while the
 * host reads); `free()` releases them and the object, or they live until the program ends. */
@unmanaged
export class WasiString {
  /** Address of the UTF-8 bytes (no terminating NUL). */
  ptr: WasiStringBytesPtr;
  /** Number of bytes. */
  length: usize;

  constructor(str: string) {
    const bytes = String.UTF8.encode(str, false);
    const length = <usize>bytes.byteLength;
    this.ptr = heap.alloc(length);
    memory.copy(this.ptr, changetype<usize>(bytes), length);
    this.length = length;
  }

  /** Releases the bytes and this object; neither may be used afterwards. */
  free(): void {
    heap.free(this.ptr);
    heap.free(changetype<usize>(this));
  }

  /** The bytes decoded as UTF-8 (a copy). */
  toString(): string {
    return String.UTF8.decodeUnsafe(this.ptr, this.length);
  }
}

/** A byte range the host reads: the data of an array view. */
@unmanaged
export class WasiSlice<T> {
  /** Address of the first byte. */
  ptr: WasiPtr<T>;
  /** Number of bytes. */
  length: usize;

  constructor(array: ArrayBufferView) {
    this.ptr = array.dataStart;
    this.length = <usize>array.byteLength;
  }
}

/** A byte range the host writes into: the data of an array view. */
@unmanaged
export class WasiMutSlice<T> {
  /** Address of the first byte. */
  ptr: WasiMutPtr<T>;
  /** Number of bytes. */
  length: usize;

  constructor(array: ArrayBufferView) {
    this.ptr = array.dataStart;
    this.length = <usize>array.byteLength;
  }
}

/** What every function returns: 0 on success, otherwise one of abi.md's error codes. */
export type HttpError = u32;

/** The codes, under the original package's names (`UTF_8_ERROR`), then every code added since
 * under abi.md's names. `ErrorCode` in the package's index is the same table. */
export namespace HttpError {
  export const SUCCESS: HttpError = ErrorCode.SUCCESS;
  export const INVALID_HANDLE: HttpError = ErrorCode.INVALID_HANDLE;
  export const MEMORY_NOT_FOUND: HttpError = ErrorCode.MEMORY_NOT_FOUND;
  export const MEMORY_ACCESS_ERROR: HttpError = ErrorCode.MEMORY_ACCESS_ERROR;
  export const BUFFER_TOO_SMALL: HttpError = ErrorCode.BUFFER_TOO_SMALL;
  export const HEADER_NOT_FOUND: HttpError = ErrorCode.HEADER_NOT_FOUND;
  export const UTF_8_ERROR: HttpError = ErrorCode.UTF8_ERROR;
  export const DESTINATION_NOT_ALLOWED: HttpError = ErrorCode.DESTINATION_NOT_ALLOWED;
  export const INVALID_METHOD: HttpError = ErrorCode.INVALID_METHOD;
  export const INVALID_ENCODING: HttpError = ErrorCode.INVALID_ENCODING;
  export const INVALID_URL: HttpError = ErrorCode.INVALID_URL;
  export const REQUEST_ERROR: HttpError = ErrorCode.REQUEST_ERROR;
  export const RUNTIME_ERROR: HttpError = ErrorCode.RUNTIME_ERROR;
  export const TOO_MANY_SESSIONS: HttpError = ErrorCode.TOO_MANY_SESSIONS;
  export const DNS_ERROR: HttpError = ErrorCode.DNS_ERROR;
  export const DESTINATION_IP_PROHIBITED: HttpError = ErrorCode.DESTINATION_IP_PROHIBITED;
  export const CONNECTION_REFUSED: HttpError = ErrorCode.CONNECTION_REFUSED;
  export const CONNECTION_TIMEOUT: HttpError = ErrorCode.CONNECTION_TIMEOUT;
  export const CONNECTION_TERMINATED: HttpError = ErrorCode.CONNECTION_TERMINATED;
  export const TLS_CERTIFICATE_ERROR: HttpError = ErrorCode.TLS_CERTIFICATE_ERROR;
  export const TLS_PROTOCOL_ERROR: HttpError = ErrorCode.TLS_PROTOCOL_ERROR;
  export const RESPONSE_HEADER_TIMEOUT: HttpError = ErrorCode.RESPONSE_HEADER_TIMEOUT;
  export const IDLE_TIMEOUT: HttpError = ErrorCode.IDLE_TIMEOUT;
  export const DEADLINE_EXCEEDED: HttpError = ErrorCode.DEADLINE_EXCEEDED;
  export const RESPONSE_INCOMPLETE: HttpError = ErrorCode.RESPONSE_INCOMPLETE;
  export const RESPONSE_HEADER_LINE_TOO_LONG: HttpError = ErrorCode.RESPONSE_HEADER_LINE_TOO_LONG;
  export const RESPONSE_HEADER_SECTION_TOO_LARGE: HttpError =
    ErrorCode.RESPONSE_HEADER_SECTION_TOO_LARGE;
  export const RESPONSE_TOO_MANY_HEADERS: HttpError = ErrorCode.RESPONSE_TOO_MANY_HEADERS;
  export const RESPONSE_CHUNK_LINE_TOO_LONG: HttpError = ErrorCode.RESPONSE_CHUNK_LINE_TOO_LONG;
  export const RESPONSE_BODY_TOO_LARGE: HttpError = ErrorCode.RESPONSE_BODY_TOO_LARGE;
  export const REQUEST_BODY_TOO_LARGE: HttpError = ErrorCode.REQUEST_BODY_TOO_LARGE;
  export const REQUEST_HEADERS_TOO_LARGE: HttpError = ErrorCode.REQUEST_HEADERS_TOO_LARGE;
  export const RESPONSE_MALFORMED: HttpError = ErrorCode.RESPONSE_MALFORMED;
  export const RESPONSE_TRANSFER_CODING_UNSUPPORTED: HttpError =
    ErrorCode.RESPONSE_TRANSFER_CODING_UNSUPPORTED;
  export const FORBIDDEN_HEADER: HttpError = ErrorCode.FORBIDDEN_HEADER;
  export const CONNECTION_ERROR: HttpError = ErrorCode.CONNECTION_ERROR;
  export const INTERRUPTED: HttpError = ErrorCode.INTERRUPTED;
  export const QUOTA_EXCEEDED: HttpError = ErrorCode.QUOTA_EXCEEDED;
  export const PROXY_CONNECTION_FAILED: HttpError = ErrorCode.PROXY_CONNECTION_FAILED;
  export const PROXY_TUNNEL_REFUSED: HttpError = ErrorCode.PROXY_TUNNEL_REFUSED;
  export const PROXY_AUTH_REQUIRED: HttpError = ErrorCode.PROXY_AUTH_REQUIRED;
  export const PROXY_RESPONSE_MALFORMED: HttpError = ErrorCode.PROXY_RESPONSE_MALFORMED;
}

/** A response's HTTP status code, as `req` writes it (a u16). */
export type StatusCode = u16;
/** A request body the host reads. */
export type OutgoingBody = WasiSlice<u8>;
/** A buffer the host writes response body bytes into. */
export type IncomingBody = WasiMutSlice<u8>;
/** An open response, from `req` until `close`. */
export type ResponseHandle = WasiHandle;
/** A buffer the host writes a header value into. */
export type HeaderValueBuf = WasiMutSlice<u8>;
/** How many bytes the host wrote (a u32 in memory). */
export type WrittenBytes = usize;

/** Sends a request (abi.md, `req`): writes the status (u16) to `result_0_ptr` and the response
 * handle (u32) to `result_1_ptr` on success. */
// @ts-ignore: decorator
@external("wasi_experimental_http", "req")
export declare function req(
  url_ptr: WasiPtr<Char8>,
  url_len: usize,
  method_ptr: WasiPtr<Char8>,
  method_len: usize,
  headers_ptr: WasiPtr<Char8>,
  headers_len: usize,
  body_ptr: WasiPtr<u8>,
  body_len: usize,
  result_0_ptr: WasiMutPtr<StatusCode>,
  result_1_ptr: WasiMutPtr<ResponseHandle>,
): HttpError;

/** Releases a response handle (abi.md, `close`). */
// @ts-ignore: decorator
@external("wasi_experimental_http", "close")
export declare function close(response_handle: ResponseHandle): HttpError;

/** Copies the value of one response header into a buffer (abi.md, `header_get`); on
 * `BUFFER_TOO_SMALL` the needed length is written to `result_ptr`. */
// @ts-ignore: decorator
@external("wasi_experimental_http", "header_get")
export declare function headerGet(
  response_handle: ResponseHandle,
  header_name_ptr: WasiPtr<Char8>,
  header_name_len: usize,
  header_value_buf_ptr: WasiMutPtr<u8>,
  header_value_buf_len: usize,
  result_ptr: WasiMutPtr<WrittenBytes>,
): HttpError;

/** Copies the whole response header section into a buffer, `name:value\n` per field (abi.md,
 * `headers_get_all`); on `BUFFER_TOO_SMALL` the needed length is written to `result_ptr`. */
// @ts-ignore: decorator
@external("wasi_experimental_http", "headers_get_all")
export declare function headersGetAll(
  response_handle: ResponseHandle,
  header_value_buf_ptr: WasiMutPtr<u8>,
  header_value_buf_len: usize,
  result_ptr: WasiMutPtr<WrittenBytes>,
): HttpError;

/** `headersGetAll` under the name an earlier version of the original `raw.ts` gave it. That
 * version imported `header_get_all`, which no host provides; this one calls
 * `headers_get_all`, so such code links. */
export function headerGetAll(
  response_handle: ResponseHandle,
  header_value_buf_ptr: WasiMutPtr<u8>,
  header_value_buf_len: usize,
  result_ptr: WasiMutPtr<WrittenBytes>,
): HttpError {
  return headersGetAll(response_handle, header_value_buf_ptr, header_value_buf_len, result_ptr);
}

/** Reads the next response body bytes into a buffer (abi.md, `body_read`): the count goes to
 * `result_ptr`, 0 exactly at the end of the body. */
// @ts-ignore: decorator
@external("wasi_experimental_http", "body_read")
export declare function bodyRead(
  response_handle: ResponseHandle,
  body_buf_ptr: WasiMutPtr<u8>,
  body_buf_len: usize,
  result_ptr: WasiMutPtr<WrittenBytes>,
): HttpError;
