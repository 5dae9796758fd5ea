// The original package's README example, with the original import path: this project's
// package.json installs guest/assemblyscript under the name `@deislabs/wasi-experimental-http`.
// Changed: `Console` (from as-wasi, which does not build with AssemblyScript 0.28) is the
// wasi-shim's `console`, and the URL comes from argv[1] instead of postman-echo.com.
import {
  Method,
  RequestBuilder,
  Response,
} from "@deislabs/wasi-experimental-http";

export function post(): void {
  let body = String.UTF8.encode("testing the body");
  let res = new RequestBuilder(process.argv[1])
    .header("Content-Type", "text/plain")
    .method(Method.POST)
    .body(body)
    .send();

  print(res);
}

function print(res: Response): void {
  console.log(res.status.toString());
  console.log(res.getHeader("Content-Type"));
  let result = String.UTF8.decode(res.bodyReadAll().buffer);
  console.log(result);
}

post();
