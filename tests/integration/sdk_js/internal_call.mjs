// One call on a sidecar's internal gRPC port (transport-grpc) with grpc-js, the gRPC of Dapr's
// JavaScript SDK: a TLS stack no one here wrote, presenting a client certificate of the test's
// choice and claiming a caller of its choice.
//   node internal_call.mjs <port> <ca.crt> <cert> <key> <claimed caller> <proto dir>
// Prints {"frames": [...]} or {"error": {"code", "details"}} and exits 0 either way.
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import fs from "node:fs";

const [port, ca, cert, key, caller, protoDir] = process.argv.slice(2);
const definition = protoLoader.loadSync("skiff/internal/v1/invocation.proto", {
  includeDirs: [protoDir], keepCase: true, defaults: false,
});
const pkg = grpc.loadPackageDefinition(definition).skiff.internal.v1;
// The sidecar's certificate names it by SPIFFE ID, not by host name: the chain is checked, the
// name is left to the test.
const credentials = grpc.credentials.createSsl(fs.readFileSync(ca), fs.readFileSync(key),
                                               fs.readFileSync(cert),
                                               { checkServerIdentity: () => undefined });
const client = new pkg.Invocation(`127.0.0.1:${port}`, credentials);
const call = client.Call({ deadline: Date.now() + 10000 });
const frames = [];
call.on("data", (frame) => frames.push({
  response_head: frame.response_head ? { http_status: frame.response_head.http_status } : null,
  failure: frame.failure ? { status: frame.failure.status } : null,
  body: frame.body ? Buffer.from(frame.body).toString() : "",
}));
call.on("error", (e) => {
  console.log(JSON.stringify({ error: { code: e.code, details: e.details } }));
  process.exit(0);
});
call.on("end", () => {
  console.log(JSON.stringify({ frames }));
  process.exit(0);
});
call.write({
  call_head: {
    target_app_id: "cart", target_namespace: "default", caller_app_id: caller,
    caller_namespace: "default", method: "hello", verb: "POST",
    headers: [{ name: Buffer.from("dapr-caller-app-id"), value: Buffer.from(caller) }],
  },
  body: Buffer.from("hi"), end_of_body: true,
});
call.end();
