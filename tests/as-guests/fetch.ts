// The AssemblyScript test guest of tests/tests/assemblyscript_guest.rs: `fetch MODE URL [ARG...]`.
// Every mode prints `key: value` lines the test compares with what the server was told to send.
//
//   get URL                 status, content-type, body (the original API)
//   post URL                POST with a body and two headers (the original README's example)
//   headers URL NAME...     headerGet and tryHeaderGet for each NAME, then headerGetAll
//   stream URL BUFSIZE      body through bodyRead into one BUFSIZE buffer: byte count and FNV-1a
//   limit URL N             N+1 trySend without closing, then close one and send again
//   error URL               trySend and print the code, its name and message
//   abort URL               send() that fails: the package prints the code and aborts
//   body-error URL          tryBodyReadAll, then the sticky code of a second read
//   read-all URL            bodyReadAll() (the original API): aborts on a failed body
//   read URL                bodyRead() into a 4-byte buffer until 0: aborts on a failed body
import {
  ErrorCode,
  errorName,
  Method,
  RequestBuilder,
  Response,
  StatusCode,
  request,
  Request,
} from "wasi-experimental-http-as";

const mode = process.argv[1];
const url = process.argv[2];

function fnvHex(h: u64): string {
  let s = h.toString(16);
  while (s.length < 16) s = "0" + s;
  return s;
}

if (mode == "get") {
  const res = new RequestBuilder(url).send();
  console.log("status: " + res.status.toString());
  console.log("ok: " + (res.status == StatusCode.OK ? "yes" : "no"));
  console.log("content-type: " + res.headerGet("Content-Type"));
  console.log("body: " + String.UTF8.decode(res.bodyReadAll().buffer));
  res.close();
} else if (mode == "post") {
  const body = String.UTF8.encode("Testing with a request body. Does this actually work?");
  const res = new RequestBuilder(url)
    .method(Method.POST)
    .header("Content-Type", "text/plain")
    .header("abc", "def")
    .body(body)
    .send();
  console.log("status: " + res.status.toString());
  console.log("content-type: " + res.headerGet("Content-Type"));
  console.log("body: " + String.UTF8.decode(res.bodyReadAll().buffer));
  res.close();
  // The free function and the Request class of the original API, with a PUT.
  const req = new Request(url, Method.PUT);
  req.headers.set("X-Put", "yes");
  req.body = String.UTF8.encode("put body");
  const put = request(req);
  console.log("put-status: " + put.status.toString());
  console.log("put-body: " + String.UTF8.decode(put.bodyReadAll().buffer));
  put.close();
} else if (mode == "headers") {
  const res = new RequestBuilder(url).send();
  for (let i = 3; i < process.argv.length; i++) {
    const name = process.argv[i];
    const r = res.tryHeaderGet(name);
    if (r.ok) {
      const v = changetype<string>(r.value);
      console.log("header " + name + ": " + v.length.toString() + " " + v);
    } else {
      console.log("header " + name + ": error " + r.code.toString() + " " + errorName(r.code));
      // The original API answers "" and records the code.
      console.log("headerGet " + name + ": [" + res.headerGet(name) + "] error " + res.error.toString());
    }
  }
  const all = res.headerGetAll();
  const keys = all.keys();
  for (let i = 0; i < keys.length; i++) {
    console.log("all " + keys[i] + ": " + all.get(keys[i]));
  }
  res.close();
} else if (mode == "stream") {
  const res = new RequestBuilder(url).send();
  const buf = new ArrayBuffer(I32.parseInt(process.argv[3]));
  const bytes = Uint8Array.wrap(buf);
  let total: u64 = 0;
  let reads: u32 = 0;
  let hash: u64 = 0xcbf29ce484222325;
  while (true) {
    const r = res.tryBodyRead(buf);
    if (!r.ok) {
      console.log("error: " + r.code.toString() + " " + errorName(r.code));
      break;
    }
    if (r.value == 0) break;
    reads++;
    for (let i = 0; i < <i32>r.value; i++) {
      hash ^= <u64>bytes[i];
      hash *= 0x100000001b3;
    }
    total += <u64>r.value;
  }
  console.log("status: " + res.status.toString());
  console.log("body-bytes: " + total.toString());
  console.log("body-fnv: " + fnvHex(hash));
  console.log("reads-over-one: " + (reads > 1 ? "yes" : "no"));
  res.close();
} else if (mode == "limit") {
  const n = I32.parseInt(process.argv[3]);
  const open = new Array<Response>();
  for (let i = 0; i <= n; i++) {
    const r = new RequestBuilder(url).trySend();
    if (r.ok) {
      open.push(changetype<Response>(r.value));
    } else {
      console.log("send " + (i + 1).toString() + ": error " + r.code.toString() + " " + errorName(r.code));
    }
  }
  console.log("open: " + open.length.toString());
  open[0].close();
  console.log("close-again: " + open[0].tryClose().toString());
  const again = new RequestBuilder(url).trySend();
  console.log("after-close: " + again.code.toString());
  if (again.ok) changetype<Response>(again.value).close();
  for (let i = 1; i < open.length; i++) open[i].close();
} else if (mode == "error") {
  const r = new RequestBuilder(url).header("Connection", "close").trySend();
  console.log("code: " + r.code.toString());
  console.log("name: " + errorName(r.code));
  console.log("describe: " + r.describe());
  console.log("is-forbidden-header: " + (r.code == ErrorCode.FORBIDDEN_HEADER ? "yes" : "no"));
  const denied = new RequestBuilder("http://192.0.2.1/").trySend();
  console.log("denied: " + denied.code.toString() + " " + errorName(denied.code));
} else if (mode == "abort") {
  new RequestBuilder(url).send();
  console.log("not reached");
} else if (mode == "body-error") {
  const res = new RequestBuilder(url).send();
  const r = res.tryBodyReadAll();
  console.log("read: " + r.value.length.toString() + " bytes, code " + r.code.toString() + " " + errorName(r.code));
  const again = res.tryBodyRead(new ArrayBuffer(16));
  console.log("again: " + again.code.toString());
  res.close();
} else if (mode == "read-all") {
  const res = new RequestBuilder(url).send();
  const body = res.bodyReadAll();
  console.log("not reached: " + body.length.toString() + " bytes");
} else if (mode == "read") {
  const res = new RequestBuilder(url).send();
  const buf = new ArrayBuffer(4);
  let total: usize = 0;
  while (true) {
    const n = res.bodyRead(buf);
    if (n == 0) break;
    total += n;
    console.log("read: " + total.toString());
  }
  console.log("not reached: " + total.toString() + " bytes");
} else {
  console.log("unknown mode " + mode);
  process.exit(2);
}
