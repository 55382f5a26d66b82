// The metrics of service invocation and of the HTTP API, under Dapr's names, labels and buckets
// (pkg/diagnostics), so that dashboards and alerts written for daprd work for skiffd.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "telemetry/metrics.hpp"

namespace skiff {

class ServiceMetrics {
 public:
  using Clock = std::chrono::steady_clock;

  ServiceMetrics(MetricRegistry& registry, std::string app_id);

  // Caller's side. `streaming`: Dapr's type label, "streaming" for gRPC proxy calls.
  void request_sent(std::string_view callee, bool streaming);
  // The callee's answer arrived with `status` (the HTTP status of an HTTP app's answer, the gRPC
  // code of a gRPC app's), `started` when request_sent was counted.
  void response_received(std::string_view callee, int status, bool streaming,
                         Clock::time_point started);
  // The call ended without an answer from the callee's app (unreachable, refused, timed out):
  // skiff's own counter, labelled with the gRPC code name of why.
  void call_failed(std::string_view callee, int32_t code);

  // Callee's side; `caller` is the verified caller (from its certificate) when there is one.
  void request_received(std::string_view caller);
  void response_sent(std::string_view caller, int status);

  // The HTTP API: a request started, and its answer sent. `route` is the route's template (see
  // docs/observability.md), never the raw path, so that callers cannot grow the label set.
  void http_request_started(std::string_view method, std::string_view route);
  void http_request_done(std::string_view method, std::string_view route, unsigned status,
                         Clock::time_point started);

 private:
  std::string app_id_;
  MetricFamily& req_sent_;
  MetricFamily& res_recv_;
  MetricFamily& res_recv_latency_;
  MetricFamily& failed_;
  MetricFamily& req_recv_;
  MetricFamily& res_sent_;
  MetricFamily& http_requests_;
  MetricFamily& http_responses_;
  MetricFamily& http_latency_;
};

// "UNAVAILABLE" for SKIFF_ERR_UNAVAILABLE: gRPC's names of the status codes.
std::string_view status_code_name(int32_t code);

// Milliseconds since `started`, as a histogram observation.
inline double elapsed_ms(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
      .count();
}

}  // namespace skiff
