// AssemblyScript bindings for the `wasi_experimental_http` host ABI (abi.md in this
// repository). The API of the original `@deislabs/wasi-experimental-http` package is kept:
// `request`, `Request`, `RequestBuilder`, `Method`, `StatusCode`, `Response` with `status`,
// `bodyRead`, `bodyReadAll`, `headerGet`, `headerGetAll` and `close`, where `send()`,
// `bodyRead()` and `bodyReadAll()` abort on failure after printing the code and a message.
// Beside it, every call has a `try*` form that returns the ABI error code as a value and never
// aborts. The original's raw imports are `raw.ts` (`@deislabs/wasi-experimental-http/raw`).
//
// Build with AssemblyScript 0.28 and `@assemblyscript/wasi-shim` (its asconfig.json as
// `--config`), for a WASI host that also provides `wasi_experimental_http`.

import { ErrorCode, errorMessage, errorName } from "./errors";

export { ErrorCode, errorMessage, errorName };

// ---------------------------------------------------------------------------------------------
// The raw imports, exactly abi.md's SYNOPSIS: every parameter and result an i32.

// @ts-ignore: decorator
@external("wasi_experimental_http", "req")
declare function raw_req(
  url_ptr: usize, url_len: usize,
  method_ptr: usize, method_len: usize,
  headers_ptr: usize, headers_len: usize,
  body_ptr: usize, body_len: usize,
  status_code_ptr: usize, handle_ptr: usize,
): u32;

// @ts-ignore: decorator
@external("wasi_experimental_http", "close")
declare function raw_close(handle: u32): u32;

// @ts-ignore: decorator
@external("wasi_experimental_http", "header_get")
declare function raw_header_get(
  handle: u32,
  name_ptr: usize, name_len: usize,
  buf_ptr: usize, buf_len: usize,
  written_ptr: usize,
): u32;

// @ts-ignore: decorator
@external("wasi_experimental_http", "headers_get_all")
declare function raw_headers_get_all(
  handle: u32,
  buf_ptr: usize, buf_len: usize,
  written_ptr: usize,
): u32;

// @ts-ignore: decorator
@external("wasi_experimental_http", "body_read")
declare function raw_body_read(
  handle: u32,
  buf_ptr: usize, buf_len: usize,
  written_ptr: usize,
): u32;

/** The low-level imports, for code that lays out its own buffers (pointers into linear memory,
 * lengths in bytes; every function returns an `ErrorCode`). */
export namespace raw {
  export function req(
    url_ptr: usize, url_len: usize,
    method_ptr: usize, method_len: usize,
    headers_ptr: usize, headers_len: usize,
    body_ptr: usize, body_len: usize,
    status_code_ptr: usize, handle_ptr: usize,
  ): u32 {
    return raw_req(url_ptr, url_len, method_ptr, method_len, headers_ptr, headers_len,
      body_ptr, body_len, status_code_ptr, handle_ptr);
  }
  export function close(handle: u32): u32 {
    return raw_close(handle);
  }
  export function header_get(handle: u32, name_ptr: usize, name_len: usize, buf_ptr: usize,
    buf_len: usize, written_ptr: usize): u32 {
    return raw_header_get(handle, name_ptr, name_len, buf_ptr, buf_len, written_ptr);
  }
  export function headers_get_all(handle: u32, buf_ptr: usize, buf_len: usize,
    written_ptr: usize): u32 {
    return raw_headers_get_all(handle, buf_ptr, buf_len, written_ptr);
  }
  export function body_read(handle: u32, buf_ptr: usize, buf_len: usize,
    written_ptr: usize): u32 {
    return raw_body_read(handle, buf_ptr, buf_len, written_ptr);
  }
}

// Output locations for the host: a u16 status, then u32 handle / written count. The host needs
// no alignment, but these are aligned anyway. Static, so a call allocates nothing for them.
const STATUS_OUT: usize = memory.data(4);
const U32_OUT: usize = memory.data(4);

/** First size tried for a header value; grown to the exact needed length on
 * `buffer_too_small` (the host reports it). */
const HEADER_BUF_START: i32 = 256;
/** First size tried for the whole header block. */
const HEADERS_BUF_START: i32 = 4096;
/** Chunk size `bodyReadAll` reads with. */
const BODY_CHUNK: i32 = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// Results without aborting.

/** The outcome of a call that does not abort: `code` is an `ErrorCode` (0 for success) and
 * `value` the result, meaningful only when `ok`. */
export class Result<T> {
  constructor(public readonly code: u32, public readonly value: T) {}

  /** Whether the call succeeded (`code == ErrorCode.SUCCESS`). */
  get ok(): bool {
    return this.code == ErrorCode.SUCCESS;
  }

  /** `"<code> <name>: <message>"`, e.g. `"7 destination_not_allowed: the host's ..."`. */
  describe(): string {
    return describeError(this.code);
  }
}

/** `"<code> <name>: <message>"` for an `ErrorCode`. */
export function describeError(code: u32): string {
  return code.toString() + " " + errorName(code) + ": " + errorMessage(code);
}

/** Prints the code and its message (console.error) and aborts the module, as the original package's
 * `send()` did on failure. */
function fail(what: string, code: u32): void {
  // wasi-shim writes console.error to stdout, where the original package printed too.
  console.error("wasi_experimental_http: " + what + " failed: " + describeError(code));
  abort("wasi_experimental_http: " + what + " failed with " + errorName(code));
}

// ---------------------------------------------------------------------------------------------
// Requests.

/** The standard HTTP methods (the original package's enum, in its order). */
export enum Method {
  GET,
  HEAD,
  POST,
  PUT,
  DELETE,
  CONNECT,
  OPTIONS,
  TRACE,
  PATCH,
}

/** The method's name as sent. (`CONNECT` is refused by every conforming host with
 * `invalid_method`; it stays in the enum for source compatibility.) */
export function methodName(m: Method): string {
  switch (m) {
    case Method.GET: return "GET";
    case Method.HEAD: return "HEAD";
    case Method.POST: return "POST";
    case Method.PUT: return "PUT";
    case Method.DELETE: return "DELETE";
    case Method.CONNECT: return "CONNECT";
    case Method.OPTIONS: return "OPTIONS";
    case Method.TRACE: return "TRACE";
    case Method.PATCH: return "PATCH";
    default: return "";
  }
}

/** An HTTP request. Prefer `RequestBuilder`. */
export class Request {
  /** The absolute `http` or `https` URL. */
  public url: string;
  /** The method. */
  public method: Method;
  /** The request header fields, sent in insertion order. */
  public headers: Map<string, string>;
  /** The body, sent as is (empty: no body). */
  public body: ArrayBuffer;

  constructor(
    url: string,
    method: Method = Method.GET,
    headers: Map<string, string> = new Map<string, string>(),
    body: ArrayBuffer = new ArrayBuffer(0),
  ) {
    this.url = url;
    this.method = method;
    this.headers = headers;
    this.body = body;
  }
}

/** Builds and sends a request:
 * ```ts
 * let res = new RequestBuilder("http://127.0.0.1:8080/post")
 *   .method(Method.POST)
 *   .header("Content-Type", "text/plain")
 *   .body(String.UTF8.encode("hello"))
 *   .send();
 * ```
 */
export class RequestBuilder {
  private request: Request;

  constructor(url: string) {
    this.request = new Request(url);
  }

  /** Sets the method. */
  public method(m: Method): RequestBuilder {
    this.request.method = m;
    return this;
  }

  /** Sets a header field (a second call with the same key replaces the value). */
  public header(key: string, value: string): RequestBuilder {
    this.request.headers.set(key, value);
    return this;
  }

  /** Sets the body. */
  public body(b: ArrayBuffer): RequestBuilder {
    this.request.body = b;
    return this;
  }

  /** Sends the request; on failure prints the error code and message and aborts. */
  public send(): Response {
    return request(this.request);
  }

  /** Sends the request; never aborts. `value` is the response when `ok`, otherwise `null`. */
  public trySend(): Result<Response | null> {
    return tryRequest(this.request);
  }
}

/** Sends `req`; on failure prints the error code and message and aborts. */
export function request(req: Request): Response {
  const r = tryRequest(req);
  if (!r.ok) fail("request", r.code);
  return changetype<Response>(r.value);
}

/** Sends `req`; never aborts. `value` is the response when `ok`, otherwise `null`. */
export function tryRequest(req: Request): Result<Response | null> {
  const url = String.UTF8.encode(req.url);
  const method = String.UTF8.encode(methodName(req.method));
  const headers = String.UTF8.encode(headerBlock(req.headers));
  const code = raw_req(
    changetype<usize>(url), url.byteLength,
    changetype<usize>(method), method.byteLength,
    changetype<usize>(headers), headers.byteLength,
    changetype<usize>(req.body), req.body.byteLength,
    STATUS_OUT, U32_OUT,
  );
  if (code != ErrorCode.SUCCESS) return new Result<Response | null>(code, null);
  return new Result<Response | null>(code, new Response(load<u16>(STATUS_OUT), load<u32>(U32_OUT)));
}

/** The ABI's header block: `name:value\n` per field. */
function headerBlock(headers: Map<string, string>): string {
  let block = "";
  const keys = headers.keys();
  for (let i = 0; i < keys.length; i++) {
    block += keys[i] + ":" + headers.get(keys[i]) + "\n";
  }
  return block;
}

// ---------------------------------------------------------------------------------------------
// Responses.

/** An open response. Its handle counts against the host's concurrency limit until `close()`;
 * AssemblyScript runs no finalizers, so close every response you are done with. */
export class Response {
  /** The final status code. */
  public status: StatusCode;
  /** The host's handle for this response (0 once closed). */
  public handle: u32;
  /** The code of the last failed header call on this response through the original API
   * (`headerGet`, `headerGetAll`), 0 if none failed. (`bodyRead` and `bodyReadAll` abort
   * instead.) */
  public error: u32 = 0;

  constructor(status: u16, handle: u32) {
    this.status = status as StatusCode;
    this.handle = handle;
  }

  /** Reads the next body bytes into `buffer`; returns how many, 0 exactly at the end of the
   * body. On an error (a body cut short, a timeout, a quota) prints the code and a message and
   * aborts, as `send()` does: the original package read the whole body inside `send()`, so a
   * body that failed aborted there, and a program written for it must not take a short body
   * for a whole one. `tryBodyRead` returns the code instead. */
  public bodyRead(buffer: ArrayBuffer): usize {
    const r = this.tryBodyRead(buffer);
    if (!r.ok) fail("body read", r.code);
    return r.value;
  }

  /** Reads the next body bytes into `buffer`: `value` is the count, 0 exactly at the end of the
   * body. A failed body keeps failing with the same code. */
  public tryBodyRead(buffer: ArrayBuffer): Result<usize> {
    const code = raw_body_read(this.handle, changetype<usize>(buffer), buffer.byteLength, U32_OUT);
    return new Result<usize>(code, code == ErrorCode.SUCCESS ? <usize>load<u32>(U32_OUT) : 0);
  }

  /** Reads the rest of the body. On an error prints the code and a message and aborts, as
   * `send()` does (see `bodyRead`): it never returns a short body. `tryBodyReadAll` returns the
   * code with the bytes read before it instead. */
  public bodyReadAll(): Uint8Array {
    const r = this.tryBodyReadAll();
    if (!r.ok) fail("body read", r.code);
    return r.value;
  }

  /** Reads the rest of the body. `value` holds every byte read, also when `code` is an error
   * (then the bytes before it). */
  public tryBodyReadAll(): Result<Uint8Array> {
    // Chunks are kept and joined once at the end: linear in the body size.
    const chunks = new Array<Uint8Array>();
    let total = 0;
    let code: u32 = ErrorCode.SUCCESS;
    while (true) {
      const chunk = new ArrayBuffer(BODY_CHUNK);
      const r = this.tryBodyRead(chunk);
      if (!r.ok || r.value == 0) {
        code = r.code;
        break;
      }
      chunks.push(Uint8Array.wrap(chunk, 0, <i32>r.value));
      total += <i32>r.value;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < chunks.length; i++) {
      out.set(chunks[i], at);
      at += chunks[i].length;
    }
    return new Result<Uint8Array>(code, out);
  }

  /** The value of header `name` (several fields of that name are joined with `", "`), or `""`
   * when it is absent or the call failed (then `error` is set), as in the original package. */
  public headerGet(name: string): string {
    const r = this.tryHeaderGet(name);
    if (!r.ok) {
      this.error = r.code;
      return "";
    }
    return changetype<string>(r.value);
  }

  /** The original README's name for `headerGet`. */
  public getHeader(name: string): string {
    return this.headerGet(name);
  }

  /** The value of header `name`, decoded as UTF-8 (invalid bytes replaced); `code` is
   * `HEADER_NOT_FOUND` when the response has no such field. The value buffer starts small and is
   * grown to the length the host reports after `BUFFER_TOO_SMALL`. */
  public tryHeaderGet(name: string): Result<string | null> {
    const n = String.UTF8.encode(name);
    let buf = new ArrayBuffer(HEADER_BUF_START);
    let code = raw_header_get(this.handle, changetype<usize>(n), n.byteLength,
      changetype<usize>(buf), buf.byteLength, U32_OUT);
    if (code == ErrorCode.BUFFER_TOO_SMALL) {
      buf = new ArrayBuffer(<i32>load<u32>(U32_OUT));
      code = raw_header_get(this.handle, changetype<usize>(n), n.byteLength,
        changetype<usize>(buf), buf.byteLength, U32_OUT);
    }
    if (code != ErrorCode.SUCCESS) return new Result<string | null>(code, null);
    return new Result<string | null>(code,
      String.UTF8.decodeUnsafe(changetype<usize>(buf), load<u32>(U32_OUT)));
  }

  /** Every header field: lowercase names, repeated names joined with `", "` in the order
   * received. Empty on failure (then `error` is set). */
  public headerGetAll(): Map<string, string> {
    const r = this.tryHeaderGetAll();
    if (!r.ok) this.error = r.code;
    return r.value;
  }

  /** Every header field, as `headerGetAll`; `value` is empty when `code` is an error. */
  public tryHeaderGetAll(): Result<Map<string, string>> {
    const map = new Map<string, string>();
    const r = this.tryHeadersRaw();
    if (!r.ok) return new Result<Map<string, string>>(r.code, map);
    const lines = changetype<string>(r.value).split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const key = line.substring(0, colon);
      const value = line.substring(colon + 1);
      map.set(key, map.has(key) ? map.get(key) + ", " + value : value);
    }
    return new Result<Map<string, string>>(r.code, map);
  }

  /** The whole header section as the host returns it: `name:value\n` per field line, names
   * lowercase, repeated fields on lines of their own (the lossless form for `Set-Cookie`). */
  public tryHeadersRaw(): Result<string | null> {
    let buf = new ArrayBuffer(HEADERS_BUF_START);
    let code = raw_headers_get_all(this.handle, changetype<usize>(buf), buf.byteLength, U32_OUT);
    if (code == ErrorCode.BUFFER_TOO_SMALL) {
      buf = new ArrayBuffer(<i32>load<u32>(U32_OUT));
      code = raw_headers_get_all(this.handle, changetype<usize>(buf), buf.byteLength, U32_OUT);
    }
    if (code != ErrorCode.SUCCESS) return new Result<string | null>(code, null);
    return new Result<string | null>(code,
      String.UTF8.decodeUnsafe(changetype<usize>(buf), load<u32>(U32_OUT)));
  }

  /** Releases the handle (its slot in the concurrency limit frees at once). Closing twice is
   * harmless: the second call does nothing. */
  public close(): void {
    this.tryClose();
  }

  /** Releases the handle; returns `INVALID_HANDLE` if it was already closed. */
  public tryClose(): u32 {
    if (this.handle == 0) return ErrorCode.INVALID_HANDLE;
    const code = raw_close(this.handle);
    this.handle = 0;
    return code;
  }
}

/** The standard HTTP status codes (the original package's enum; its misspelt members are kept
 * for source compatibility beside the correct spelling). */
export enum StatusCode {
  CONTINUE = 100,
  SWITCHING_PROTOCOL = 101,
  PROCESSING = 102,
  EARLY_HINTS = 103,

  OK = 200,
  CREATED = 201,
  ACCEPTED = 202,
  NON_AUTHORITATIVE_INFORMATION = 203,
  NO_CONTENT = 204,
  RESET_CONTENT = 205,
  PARTIAL_CONTENT = 206,
  MULTI_STATUS = 207,
  ALREADY_REPORTED = 208,
  IM_USED = 226,

  MULTIPLE_CHOICE = 300,
  MOVED_PERMANENTLY = 301,
  FOUND = 302,
  SEE_OTHER = 303,
  NOT_MODIFIED = 304,
  USE_PROXY = 305,
  UNUSED = 306,
  TEMPORARY_REDIRECT = 307,
  PERMANENT_REDIRECT = 308,

  BAD_REQUEST = 400,
  UNAUTHORIZED = 401,
  PAYMENT_REQUIRED = 402,
  FORBIDDEN = 403,
  NOT_FOUND = 404,
  METHOD_NOT_ALLOWED = 405,
  NOT_ACCEPTABLE = 406,
  PROXY_AUTHENTICATION_REQUIRED = 407,
  REQUEST_TIMEOUT = 408,
  CONFLICT = 409,
  GONE = 410,
  LENGTH_REQUIRED = 411,
  PRECONDITION_FAILED = 412,
  PAYLOAD_TOO_LARGE = 413,
  URI_TOO_LONG = 414,
  UNSUPPORTED_MEDIA_TYPE = 415,
  RANGE_NOT_SATISFIABLE = 416,
  EXPECTATION_FAILED = 417,
  IM_A_TEAPOT = 418,
  MISDIRECTED_REQUEST = 421,
  UNPROCESSABLE_ENTITY = 422,
  LOCKED = 423,
  FAILED_DEPENDENCY = 424,
  TOO_EARLY = 425,
  UPGRADE_REQUIRED = 426,
  PRECONDITION_REQURIED = 428,
  PRECONDITION_REQUIRED = 428,
  TOO_MANY_REQUESTS = 429,
  REQUEST_HEADER_FIELDS_TOO_LARGE = 431,
  UNAVAILABLE_FOR_LEGAL_REASONS = 451,

  INTERNAL_SERVER_ERROR = 500,
  NOT_IMPLELENTED = 501,
  NOT_IMPLEMENTED = 501,
  BAD_GATEWAY = 502,
  SERVICE_UNAVAILABLE = 503,
  GATEWAY_TIMEOUT = 504,
  HTTP_VERSION_NOT_SUPPORTED = 505,
  VARIANT_ALSO_NEGOTIATES = 506,
  INSUFFICIENT_STORAGE = 507,
  LOOP_DETECTED = 508,
  NOT_EXTENDED = 510,
  NETWORK_AUTHENTICATION_REQUIRED = 511,
}
