// What this sidecar knows of one call while it runs. It is made where the call enters (an app's
// HTTP request, an app's gRPC call, a call from another sidecar over the transport) and lives
// until the answer is out; every stage the call passes reads and adds to it: the trace it joined
// and the spans this sidecar records, the verified caller, the instances tried, and the status
// the caller was finally given. Spans, metrics and the access log are made from it, once, where
// the call ends; the call head (call_head.hpp) is only what travels to the next hop.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "call/status.hpp"
#include "security/spiffe_id.hpp"
#include "skiff/abi.h"
#include "telemetry/spans.hpp"

namespace skiff {

enum class CallIngress : uint8_t {
  kHttpApi,    // an app's request on the HTTP API (invoke, dapr-app-id, [[http_endpoints]])
  kGrpcApi,    // an app's call on the gRPC API (InvokeService, proxy mode)
  kTransport,  // another sidecar's call, for this sidecar's app
};

struct CallContext {
  using Clock = std::chrono::steady_clock;

  explicit CallContext(CallIngress from) : ingress(from) {}

  CallIngress ingress;
  Clock::time_point started = Clock::now();

  // This sidecar's view of the call's trace (not sent: the traceparent header carries it on).
  CallTrace trace;

  // The calling sidecar's identity as its certificate proves it (kTransport with mTLS);
  // none: no certificate was presented, or the transport does not verify one.
  std::optional<SpiffeId> caller;

  // The app (or [[http_endpoints]] entry) this sidecar's app called, once known.
  std::string target_app_id;
  // How the Caller reached the target: instances tried and the last one's address.
  int attempts = 0;
  std::string address;

  // The answer the caller was given: an HTTP status (gRPC statuses are mapped onto it as Dapr
  // does), or the failure that ended the call before an answer; both unset while it runs, and
  // for a call whose caller went away before anything was answered.
  int http_status = 0;
  skiff_status_t failure = SKIFF_OK;

  // When the call entered, as spans carry time (wall-clock nanoseconds): asked only of calls
  // whose spans are recorded, so that no other call reads the wall clock.
  uint64_t started_unix_nanos() const {
    const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started);
    return unix_nanos() - static_cast<uint64_t>(since.count());
  }

  bool traced() const {
    for (auto b : trace.trace_id)
      if (b) return true;
    return false;
  }
  // The hex trace id for logs; empty for a call that joined no trace.
  std::string trace_id_hex() const {
    return traced() ? TraceParent{trace.trace_id, {}, false}.trace_id_hex() : std::string();
  }
  // The status the caller saw, as an HTTP status; 0 for none.
  int final_http_status() const {
    if (http_status) return http_status;
    return failure != SKIFF_OK ? static_cast<int>(http_status_for(failure)) : 0;
  }
};

}  // namespace skiff
