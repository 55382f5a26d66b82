// The W3C trace context a call carries from the calling app to the callee app (and back, in the
// HTTP answer), as Dapr's sidecars carry it: the app's traceparent and tracestate when they are
// valid, a new trace when they are absent or invalid, and grpc-trace-bin beside traceparent for
// gRPC apps. (A gRPC client's own grpc-trace-bin never reaches skiff: gRPC 1.51's server consumes
// it.) When the sidecars record spans, each hop's traceparent names the span of the sidecar that
// sends it; otherwise a valid traceparent goes on as the app sent it (normalized).
#pragma once

#include <string>
#include <vector>

#include "call/call_context.hpp"
#include "call/call_head.hpp"
#include "common/trace_context.hpp"

namespace skiff {

inline constexpr std::string_view kTraceParentHeader = "traceparent";
inline constexpr std::string_view kTraceStateHeader = "tracestate";
inline constexpr std::string_view kGrpcTraceBinHeader = "grpc-trace-bin";

// Caller side: leaves exactly one traceparent in `headers` (the app's, or a new trace whose sampled
// flag follows `sampling_rate`), a tracestate only beside the app's own valid traceparent, and no
// grpc-trace-bin (the callee's sidecar writes one from the traceparent for a gRPC app). Returns the
// traceparent the call carries.
// `from_app` tells whether it is the app's own (else a new trace).
TraceParent carry_trace_context(std::vector<Header>& headers, double sampling_rate,
                                bool* from_app = nullptr);

// Caller side, for the call's context: carry_trace_context, and the trace it carries in
// `context.trace`. When `record` (this sidecar records spans) and the trace is sampled, the trace
// gets this sidecar's span ids, a server span when `spans.server` and a client span when
// `spans.client`, and the traceparent sent on names the client span (else the server span).
struct SidecarSpans {
  bool server = false, client = false;
};
TraceParent join_trace(std::vector<Header>& headers, double sampling_rate, bool record,
                       SidecarSpans spans, CallContext& context);

// Replaces the traceparent in `headers` by one that names `span` as the parent of what follows.
void set_traceparent(std::vector<Header>& headers, const TraceParent& parent);

// Callee side, toward a gRPC app: grpc-trace-bin beside the traceparent, for apps whose gRPC
// tracing reads that one.
void add_grpc_trace_bin(std::vector<Header>& headers);

}  // namespace skiff
