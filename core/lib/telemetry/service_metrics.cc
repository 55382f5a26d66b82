#include "telemetry/service_metrics.hpp"

#include <charconv>

namespace skiff {

namespace {

constexpr std::string_view kUnary = "unary";
constexpr std::string_view kStreaming = "streaming";

// A status number as a label value, without an allocation.
struct StatusText {
  explicit StatusText(int status) {
    auto r = std::to_chars(buf, buf + sizeof buf, status);
    len = static_cast<size_t>(r.ptr - buf);
  }
  std::string_view view() const { return {buf, len}; }
  char buf[12];
  size_t len;
};

}  // namespace

std::string_view status_code_name(int32_t code) {
  static constexpr std::string_view kNames[] = {"OK",
                                                "CANCELLED",
                                                "UNKNOWN",
                                                "INVALID_ARGUMENT",
                                                "DEADLINE_EXCEEDED",
                                                "NOT_FOUND",
                                                "ALREADY_EXISTS",
                                                "PERMISSION_DENIED",
                                                "RESOURCE_EXHAUSTED",
                                                "FAILED_PRECONDITION",
                                                "ABORTED",
                                                "OUT_OF_RANGE",
                                                "UNIMPLEMENTED",
                                                "INTERNAL",
                                                "UNAVAILABLE",
                                                "DATA_LOSS",
                                                "UNAUTHENTICATED"};
  return code >= 0 && code < static_cast<int32_t>(std::size(kNames)) ? kNames[code] : "UNKNOWN";
}

ServiceMetrics::ServiceMetrics(MetricRegistry& r, std::string app_id)
    : app_id_(std::move(app_id)),
      req_sent_(r.counter("dapr_runtime_service_invocation_req_sent_total",
                          "The number of requests sent via service invocation.",
                          {"app_id", "dst_app_id", "type"})),
      res_recv_(r.counter("dapr_runtime_service_invocation_res_recv_total",
                          "The number of responses received via service invocation.",
                          {"app_id", "src_app_id", "status", "type"})),
      res_recv_latency_(r.histogram("dapr_runtime_service_invocation_res_recv_latency_ms",
                                    "The latency of service invocation response.",
                                    {"app_id", "src_app_id", "status"}, dapr_latency_buckets_ms())),
      failed_(r.counter("skiff_invoke_failed_total",
                        "Calls that ended without an answer from the callee's app, by why.",
                        {"app_id", "dst_app_id", "reason"})),
      req_recv_(r.counter("dapr_runtime_service_invocation_req_recv_total",
                          "The number of requests received via service invocation.",
                          {"app_id", "src_app_id"})),
      res_sent_(r.counter("dapr_runtime_service_invocation_res_sent_total",
                          "The number of responses sent via service invocation.",
                          {"app_id", "dst_app_id", "status"})),
      http_requests_(r.counter("dapr_http_server_request_count",
                               "Number of HTTP requests started in server.",
                               {"app_id", "method", "path"})),
      http_responses_(r.counter("dapr_http_server_response_count", "The number of HTTP responses",
                                {"app_id", "method", "path", "status"})),
      http_latency_(
          r.histogram("dapr_http_server_latency", "HTTP request end to end latency in server.",
                      {"app_id", "method", "path", "status"}, dapr_latency_buckets_ms())) {}

void ServiceMetrics::request_sent(std::string_view callee, bool streaming) {
  req_sent_.add({app_id_, callee, streaming ? kStreaming : kUnary});
}

void ServiceMetrics::response_received(std::string_view callee, int status, bool streaming,
                                       Clock::time_point started) {
  StatusText text(status);
  res_recv_.add({app_id_, callee, text.view(), streaming ? kStreaming : kUnary});
  res_recv_latency_.observe({app_id_, callee, text.view()}, elapsed_ms(started));
}

void ServiceMetrics::call_failed(std::string_view callee, int32_t code) {
  failed_.add({app_id_, callee, status_code_name(code)});
}

void ServiceMetrics::request_received(std::string_view caller) {
  req_recv_.add({app_id_, caller});
}

void ServiceMetrics::response_sent(std::string_view caller, int status) {
  StatusText text(status);
  res_sent_.add({app_id_, caller, text.view()});
}

void ServiceMetrics::http_request_started(std::string_view method, std::string_view route) {
  http_requests_.add({app_id_, method, route});
}

void ServiceMetrics::http_request_done(std::string_view method, std::string_view route,
                                       unsigned status, Clock::time_point started) {
  StatusText text(static_cast<int>(status));
  http_responses_.add({app_id_, method, route, text.view()});
  http_latency_.observe({app_id_, method, route, text.view()}, elapsed_ms(started));
}

}  // namespace skiff
