// The sidecars' own spans, handed to observer plugins (on_span). A call recorded through two
// sidecars makes four: the caller's sidecar a server span (the app's request) and a client span
// (the call to the other sidecar), the callee's sidecar a server span and a client span (the call
// to its app). Only sampled traces are recorded, and only when an observer takes spans: an
// unsampled call costs one flag test.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "common/trace_context.hpp"
#include "skiff/observer.h"

namespace skiff {

using SpanId = std::array<uint8_t, 8>;

// What a call knows of its trace, from where it entered this sidecar.
struct CallTrace {
  std::array<uint8_t, 16> trace_id{};
  SpanId parent{};  // the span this sidecar's first span is a child of
  bool has_parent = false;
  bool sampled = false;
  bool recording = false;  // sampled, and an observer takes spans
  SpanId server_span{}, client_span{};
  bool has_server_span = false;  // the entry point records a server span (HTTP API, callee)
  uint64_t client_started = 0;   // callee: when the call to the app started (0: it did not)
};

// Wall-clock nanoseconds, as spans carry them.
inline uint64_t unix_nanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

struct SpanAttribute {
  std::string_view key, value;
};

struct SpanData {
  const CallTrace& trace;
  const SpanId& id;
  const SpanId* parent;  // null: a root span
  std::string_view name;
  int32_t kind;  // SKIFF_SPAN_*
  uint64_t start_unix_nanos, end_unix_nanos;
  skiff_status_t status = SKIFF_OK;  // not OK: the span's status is an error
  std::string_view status_message;
  std::initializer_list<SpanAttribute> attributes;
};

class SpanSink {
 public:
  struct Exporter {
    void* instance;
    void (*on_span)(void* instance, const skiff_span_t* span);
  };
  // Before any call: the list is read without a lock.
  void add(Exporter exporter) { exporters_.push_back(exporter); }
  bool active() const { return !exporters_.empty(); }
  void emit(const SpanData& span) const;

 private:
  std::vector<Exporter> exporters_;
};

// A new random span id (per-thread generator).
SpanId new_span_id();

}  // namespace skiff
