// CPU cost per call of what observability adds to each sidecar, measured on one thread in
// isolation (the end-to-end benchmark's CPU per request is too noisy on a shared 2-core machine to
// resolve a few microseconds): the metric updates each side makes for one call, the spans each
// side records for a sampled call (built, handed to observer-otlp's queue), and the test an
// unsampled call pays. Prints JSON: nanoseconds per call per sidecar.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "exporter.hpp"
#include "telemetry/service_metrics.hpp"
#include "telemetry/spans.hpp"

namespace {

using Clock = std::chrono::steady_clock;

template <typename Fn>
double ns_per_call(int n, Fn&& fn) {
  for (int i = 0; i < n / 10; ++i) fn(i);  // warm the caches and the series
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) fn(i);
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / n;
}

}  // namespace

int main() {
  using namespace skiff;
  constexpr int kCalls = 2'000'000;
  MetricRegistry registry;
  ServiceMetrics metrics(registry, "order");
  const std::string_view route = "/v1.0/invoke/{id}/method/{method}";

  // The caller's sidecar: the HTTP API's request and response, the call's send and answer.
  const double caller = ns_per_call(kCalls, [&](int) {
    auto started = ServiceMetrics::Clock::now();
    metrics.http_request_started("POST", route);
    metrics.request_sent("cart", false);
    metrics.response_received("cart", 200, false, started);
    metrics.http_request_done("POST", route, 200, started);
  });
  // The callee's sidecar: the call received and answered.
  const double callee = ns_per_call(kCalls, [&](int) {
    metrics.request_received("order");
    metrics.response_sent("order", 200);
  });

  // Spans: the two a sidecar records per sampled call, into observer-otlp's exporter (pointed at
  // a closed port with a long delay: its worker never competes with this thread).
  skiff::otlp::ExportConfig cfg;
  cfg.host = "127.0.0.1";
  cfg.port = "9";
  cfg.schedule_delay_ms = 3'600'000;
  cfg.max_queue = 1 << 22;
  cfg.max_batch = 1 << 22;
  skiff::otlp::Exporter exporter(cfg, [](int32_t, const std::string&) {});
  SpanSink sink;
  sink.add({&exporter, [](void* e, const skiff_span_t* s) {
              static_cast<skiff::otlp::Exporter*>(e)->add(*s);
            }});
  CallTrace trace;
  trace.trace_id = TraceIds::new_trace(true).trace_id;
  trace.recording = trace.sampled = trace.has_parent = trace.has_server_span = true;
  const double spans = ns_per_call(kCalls / 20, [&](int) {
    trace.server_span = new_span_id();
    trace.client_span = new_span_id();
    const uint64_t start = unix_nanos();
    sink.emit({.trace = trace,
               .id = trace.client_span,
               .parent = &trace.server_span,
               .name = "skiff.Invocation/Call",
               .kind = SKIFF_SPAN_CLIENT,
               .start_unix_nanos = start,
               .end_unix_nanos = unix_nanos(),
               .attributes = {{"rpc.system", "skiff"},
                              {"rpc.service", "skiff.Invocation"},
                              {"rpc.method", "Call"},
                              {"server.address", "127.0.0.1:50002"},
                              {"skiff.app_id", "order"},
                              {"skiff.target.app_id", "cart"},
                              {"skiff.target.namespace", "default"},
                              {"skiff.method", "orders/17"},
                              {"skiff.retries", "0"},
                              {"http.response.status_code", "200"}}});
    sink.emit({.trace = trace,
               .id = trace.server_span,
               .parent = &trace.parent,
               .name = "POST /v1.0/invoke/{id}/method/{method}",
               .kind = SKIFF_SPAN_SERVER,
               .start_unix_nanos = start,
               .end_unix_nanos = unix_nanos(),
               .attributes = {{"http.request.method", "POST"},
                              {"http.route", route},
                              {"http.response.status_code", "200"},
                              {"skiff.app_id", "order"}}});
  });
  // Unsampled: what a call pays when it is not recorded.
  volatile bool recording = false;
  int recorded = 0;
  const double unsampled = ns_per_call(kCalls, [&](int) {
    if (recording) ++recorded;
  });
  std::printf(
      "{\"metrics_caller_ns\": %.0f, \"metrics_callee_ns\": %.0f, \"spans_per_sidecar_ns\": %.0f, "
      "\"unsampled_ns\": %.1f}\n",
      caller, callee, spans, unsampled);
  return recorded;
}
