// The call model: what every call is made of in the core, whichever protocol it entered by
// (HTTP or gRPC from an app, the transport from another sidecar) and whichever it leaves by.
// Protocols are translated into it at the edges (api/, appchannel/, the plugin bridge); the
// invocation layer sees nothing else. What this sidecar knows of a call beyond what it sends on
// is in the call's context (call_context.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace skiff {

struct Header {
  std::string name;
  std::string value;
};

// The head of an invocation: who calls whom, the raw method, verb and query, and the headers
// that travel end to end.
struct CallHead {
  std::string target_app_id, target_namespace, caller_app_id, caller_namespace;
  std::string method, verb, query;
  std::vector<Header> headers;
  uint64_t timeout_ms = 0;
  // The calling sidecar's certificate identity as the transport reports it (ABI's call head);
  // the Callee reads it once into the call's context (call_context.hpp).
  std::string peer_identity;
};

// The head of the answer: an HTTP status (gRPC apps' answers map onto it) and headers.
struct ResponseHead {
  int http_status = 0;
  std::vector<Header> headers;
};

}  // namespace skiff
