#include "invoke/trace_headers.hpp"

#include <algorithm>
#include <optional>

#include "common/http_syntax.hpp"

namespace skiff {

TraceParent carry_trace_context(std::vector<Header>& headers, double sampling_rate,
                                bool* from_app_out) {
  int traceparents = 0;
  std::optional<TraceParent> from_app;
  std::string tracestate;
  bool has_tracestate = false;
  for (const auto& h : headers) {
    if (names_field(h.name, kTraceParentHeader)) {
      ++traceparents;
      from_app = parse_traceparent(h.value);
    } else if (names_field(h.name, kTraceStateHeader)) {
      // Split across several fields, it is one list (RFC 9110 5.3).
      if (has_tracestate) tracestate += ',';
      tracestate += h.value;
      has_tracestate = true;
    }
  }
  // Two traceparents cannot both be the parent: neither is.
  if (traceparents > 1) from_app.reset();
  std::erase_if(headers, [](const Header& h) {
    return names_field(h.name, kTraceParentHeader) || names_field(h.name, kTraceStateHeader) ||
           names_field(h.name, kGrpcTraceBinHeader);
  });
  // A tracestate belongs to its traceparent: without a valid one it is dropped (W3C 3.3).
  std::optional<std::string> state;
  if (from_app && has_tracestate) state = normalize_tracestate(tracestate);
  if (from_app_out) *from_app_out = from_app.has_value();
  TraceParent carried;
  if (from_app) {
    carried = *from_app;
  } else {
    carried = TraceIds::new_trace(false);
    carried.sampled = sample_trace_id(carried.trace_id, sampling_rate);
  }
  headers.push_back({std::string(kTraceParentHeader), carried.header()});
  if (state && !state->empty()) headers.push_back({std::string(kTraceStateHeader), *state});
  return carried;
}

TraceParent join_trace(std::vector<Header>& headers, double sampling_rate, bool record,
                       SidecarSpans spans, CallContext& context) {
  bool from_app = false;
  TraceParent carried = carry_trace_context(headers, sampling_rate, &from_app);
  auto& trace = context.trace;
  trace = CallTrace{};
  trace.trace_id = carried.trace_id;
  trace.sampled = carried.sampled;
  trace.has_parent = from_app;
  if (from_app) trace.parent = carried.span_id;
  if (!record || !carried.sampled) return carried;
  trace.recording = true;
  trace.has_server_span = spans.server;
  if (spans.server) trace.server_span = carried.span_id = new_span_id();
  if (spans.client) trace.client_span = carried.span_id = new_span_id();
  // What follows (the callee's sidecar, or an endpoint outside the mesh) continues from the span
  // this sidecar recorded last.
  set_traceparent(headers, carried);
  return carried;
}

void set_traceparent(std::vector<Header>& headers, const TraceParent& parent) {
  for (auto& h : headers)
    if (names_field(h.name, kTraceParentHeader)) {
      h.value = parent.header();
      return;
    }
  headers.push_back({std::string(kTraceParentHeader), parent.header()});
}

void add_grpc_trace_bin(std::vector<Header>& headers) {
  std::optional<TraceParent> parent;
  for (const auto& h : headers)
    if (h.name == kTraceParentHeader) parent = parse_traceparent(h.value);
  std::erase_if(headers, [](const Header& h) { return h.name == kGrpcTraceBinHeader; });
  if (parent) headers.push_back({std::string(kGrpcTraceBinHeader), grpc_trace_bin(*parent)});
}

}  // namespace skiff
