// A program written against the original package's raw imports, with the original import path
// (`@deislabs/wasi-experimental-http/raw`, guest/assemblyscript/raw.ts): `raw URL` sends a GET
// with one header field, then prints what `headerGet` (a too-small buffer first),
// `headersGetAll`, the older alias `headerGetAll`, `bodyRead` and `close` report.
import * as raw from "@deislabs/wasi-experimental-http/raw";
import {
  HttpError,
  ResponseHandle,
  StatusCode,
  WasiMutSlice,
  WasiSlice,
  WasiString,
} from "@deislabs/wasi-experimental-http/raw";

const STATUS: usize = memory.data(4);
const HANDLE: usize = memory.data(4);
const WRITTEN: usize = memory.data(4);

function codeName(e: HttpError): string {
  if (e == HttpError.SUCCESS) return "success";
  if (e == HttpError.BUFFER_TOO_SMALL) return "buffer_too_small";
  if (e == HttpError.HEADER_NOT_FOUND) return "header_not_found";
  if (e == HttpError.INVALID_HANDLE) return "invalid_handle";
  if (e == HttpError.DESTINATION_NOT_ALLOWED) return "destination_not_allowed";
  if (e == HttpError.RESPONSE_INCOMPLETE) return "response_incomplete";
  return e.toString();
}

const url = new WasiString(process.argv[1]);
const method = new WasiString("GET");
const fields = new WasiString("x-raw:yes\n");
const body: raw.OutgoingBody = new WasiSlice<u8>(new Uint8Array(0));
let err = raw.req(url.ptr, url.length, method.ptr, method.length, fields.ptr, fields.length,
  body.ptr, body.length, STATUS, HANDLE);
console.log("req: " + codeName(err));
if (err != HttpError.SUCCESS) process.exit(1);
const status: StatusCode = load<u16>(STATUS);
const handle: ResponseHandle = load<i32>(HANDLE);
console.log("status: " + status.toString());

const name = new WasiString("Content-Type");
const small = new Uint8Array(2);
const smallBuf: raw.HeaderValueBuf = new WasiMutSlice<u8>(small);
err = raw.headerGet(handle, name.ptr, name.length, smallBuf.ptr, smallBuf.length, WRITTEN);
console.log("small: " + codeName(err) + " " + load<u32>(WRITTEN).toString());
const value = new Uint8Array(<i32>load<u32>(WRITTEN));
err = raw.headerGet(handle, name.ptr, name.length, value.dataStart, value.byteLength, WRITTEN);
console.log("content-type: " + codeName(err) + " " + String.UTF8.decodeUnsafe(value.dataStart, load<u32>(WRITTEN)));

const missing = new WasiString("X-Missing");
err = raw.headerGet(handle, missing.ptr, missing.length, value.dataStart, value.byteLength, WRITTEN);
console.log("missing: " + codeName(err));

const all = new Uint8Array(4096);
err = raw.headersGetAll(handle, all.dataStart, all.byteLength, WRITTEN);
console.log("headers: " + codeName(err) + " " + String.UTF8.decodeUnsafe(all.dataStart, load<u32>(WRITTEN)).replaceAll("\n", "|"));
err = raw.headerGetAll(handle, all.dataStart, all.byteLength, WRITTEN);
console.log("alias: " + codeName(err) + " " + load<u32>(WRITTEN).toString());

const chunk = new Uint8Array(3);
const into: raw.IncomingBody = new WasiMutSlice<u8>(chunk);
let text = "";
let reads = 0;
while (true) {
  err = raw.bodyRead(handle, into.ptr, into.length, WRITTEN);
  if (err != HttpError.SUCCESS) {
    console.log("body error: " + codeName(err));
    break;
  }
  const n: raw.WrittenBytes = load<u32>(WRITTEN);
  if (n == 0) break;
  reads++;
  text += String.UTF8.decodeUnsafe(into.ptr, n);
}
console.log("body: " + text + " in " + reads.toString() + " reads");
console.log("close: " + codeName(raw.close(handle)));
console.log("close again: " + codeName(raw.close(handle)));
console.log("roundtrip: " + url.toString());
url.free();
