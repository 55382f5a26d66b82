// The sidecars' own spans, handed to observer plugins (on_span). A call recorded through two
// sidecars makes four: the caller's sidecar a server span (the app's request) and a client span
// (the call to the other sidecar), the callee's sidecar a server span and a client span (the call
// to its app). Only sampled traces are recorded, and only when an observer takes spans: an
// unsampled call costs one flag test.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
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
  // Before any call: the exporters of the whole run ([tracing]'s observer-otlp), read without a
  // lock.
  void add(Exporter exporter) {
    fixed_.push_back(exporter);
    active_.store(true, std::memory_order_relaxed);
  }
  // Any thread: the [[observers]]' exporters for the spans that end from now on; `keep` owns
  // what they point into and is held by every emit still handing spans to them.
  void replace_observers(std::vector<Exporter> exporters, std::shared_ptr<const void> keep);
  // Whether spans are recorded at all: one flag test per call while none is.
  bool active() const { return active_.load(std::memory_order_relaxed); }
  void emit(const SpanData& span) const;

 private:
  struct ObserverSet {
    std::vector<Exporter> exporters;
    std::shared_ptr<const void> keep;
  };
  std::vector<Exporter> fixed_;
  std::atomic<std::shared_ptr<const ObserverSet>> observers_;
  std::atomic<bool> active_{false};
};

// A new random span id (per-thread generator).
SpanId new_span_id();

}  // namespace skiff
