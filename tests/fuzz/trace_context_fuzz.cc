// W3C trace context from an app's headers: whatever traceparent is accepted writes back as a
// version-00 header that reads back the same; a normalized tracestate is valid, within its limit,
// and normalizes to itself; grpc-trace-bin round-trips.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/trace_context.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto parent = skiff::parse_traceparent(in)) {
    auto written = parent->header();
    if (written.size() != 55 || skiff::parse_traceparent(written) != parent) std::abort();
    if (skiff::parse_grpc_trace_bin(skiff::grpc_trace_bin(*parent)) != parent) std::abort();
  }
  if (auto state = skiff::normalize_tracestate(in)) {
    if (state->size() > skiff::kMaxTraceState) std::abort();
    if (skiff::normalize_tracestate(*state) != state) std::abort();
  }
  if (auto parent = skiff::parse_grpc_trace_bin(in)) {
    if (!skiff::parse_traceparent(parent->header())) std::abort();
  }
  return 0;
}
