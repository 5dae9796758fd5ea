// The smallest complete GET program: `get URL` prints the status and the body.
import { RequestBuilder } from "wasi-experimental-http-as";

const res = new RequestBuilder(process.argv[1]).send();
console.log(res.status.toString());
console.log(String.UTF8.decode(res.bodyReadAll().buffer));
res.close();
