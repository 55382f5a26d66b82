// W3C Trace Context (Level 1): the traceparent and tracestate headers as a sidecar reads them
// from an app and writes them on, and the binary grpc-trace-bin form Dapr's gRPC SDKs send.
// Parsing follows the spec's rules for receivers, so that a malformed or foreign header starts a
// new trace instead of being passed on: lower-case hex only, no all-zero ids, version ff refused,
// a higher version read for its first three fields and written back as version 00.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace skiff {

struct TraceParent {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};  // the parent-id field: the span this one is a child of
  bool sampled = false;

  // "00-<trace-id>-<span-id>-<flags>", the only version this writes; only the sampled flag.
  std::string header() const;
  std::string trace_id_hex() const;
  std::string span_id_hex() const;
  bool operator==(const TraceParent&) const = default;
};

// A traceparent value, or nothing when a receiver must ignore it (W3C trace-context 3.2.2 and
// its versioning rules in 3.2.4).
std::optional<TraceParent> parse_traceparent(std::string_view value);

// A tracestate value as it may be passed on: its list-members checked (key and value syntax, at
// most 32 members, no key twice) with empty members and optional white space dropped. Nothing
// when it is malformed: the whole header is then dropped, as the spec asks. A header longer than
// kMaxTraceState loses members of more than 128 characters first, then members from the end.
inline constexpr size_t kMaxTraceState = 512;
std::optional<std::string> normalize_tracestate(std::string_view value);

// grpc-trace-bin (OpenCensus binary format, version 0): trace id, span id, trace options.
std::optional<TraceParent> parse_grpc_trace_bin(std::string_view bytes);
std::string grpc_trace_bin(const TraceParent& parent);

// Random ids from a generator seeded once per thread: no lock, no system call per call.
class TraceIds {
 public:
  // A new span of the same trace, child of `parent` (its span id becomes the new span's parent).
  static TraceParent child_of(const TraceParent& parent);
  // A new trace: a new trace id and span id.
  static TraceParent new_trace(bool sampled);

 private:
  static std::mt19937_64& generator();
};

// Whether a new trace is sampled, with probability `rate` (0: never, 1: always), decided from the
// trace id as OpenTelemetry's TraceIdRatioBased sampler does, so that every sidecar a trace
// passes decides alike. A trace that arrives with a traceparent keeps its caller's decision.
bool sample_trace_id(const std::array<uint8_t, 16>& trace_id, double rate);

}  // namespace skiff
