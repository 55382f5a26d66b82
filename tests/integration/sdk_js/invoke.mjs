// Calls app `cart` through the local sidecar with Dapr's own JavaScript SDK (@dapr/dapr), which
// reads DAPR_API_TOKEN, DAPR_HTTP_PORT and DAPR_GRPC_PORT itself, as an app would.
//   node invoke.mjs http|grpc    prints the answer as JSON, or exits 1 with the error on stderr
import { CommunicationProtocolEnum, DaprClient, HttpMethod } from "@dapr/dapr";
import settings from "@dapr/dapr/utils/Settings.util.js";

// The SDK probes the sidecar's metadata API 60 times, 500 ms apart, before giving up; a refused
// token would keep the test waiting half a minute for that.
settings.Settings.daprSidecarPollingDelayMs = 10;

const grpc = process.argv[2] === "grpc";
const client = new DaprClient({
  daprHost: "127.0.0.1",
  daprPort: grpc ? process.env.DAPR_GRPC_PORT : process.env.DAPR_HTTP_PORT,
  communicationProtocol: grpc ? CommunicationProtocolEnum.GRPC : CommunicationProtocolEnum.HTTP,
});
try {
  const answer = await client.invoker.invoke("cart", "inspect", HttpMethod.POST, { from: "js-sdk" });
  console.log(JSON.stringify({ answer }));
  process.exit(0);
} catch (e) {
  console.error(String(e && e.message ? e.message : e));
  process.exit(1);
}
