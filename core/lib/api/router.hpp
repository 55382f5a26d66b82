// Routes the app-facing HTTP API: health, metadata, and service invocation in its three target
// forms (URL, dapr-app-id header, basic auth).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "api/external.hpp"
#include "api/http_exchange.hpp"
#include "api/sidecar_info.hpp"
#include "config/settings.hpp"
#include "http/messages.hpp"
#include "invoke/caller.hpp"
#include "telemetry/service_metrics.hpp"

namespace skiff {

class Router {
 public:
  Router(const Settings& settings, Caller& caller, ExternalCaller& external,
         const SidecarInfo& info);
  boost::asio::awaitable<void> handle(HttpExchange& exchange);
  // Counts requests under Dapr's HTTP server metrics; null: metrics off.
  void set_metrics(ServiceMetrics* metrics) { metrics_ = metrics; }
  // Records the server span of sampled invocations; null or inactive: none.
  void set_spans(const SpanSink* spans) {
    spans_ = spans && spans->active() ? spans : nullptr;
    external_.record_spans(spans_ != nullptr);
  }

 private:
  boost::asio::awaitable<void> route(HttpExchange& exchange);
  Response metadata() const;
  void record_server_span(const CallContext& context, std::string_view method,
                          std::string_view route) const;
  void log_call(HttpExchange& exchange, std::string_view method) const;
  ServiceMetrics* metrics_ = nullptr;
  const SpanSink* spans_ = nullptr;
  const Settings& settings_;
  Caller& caller_;
  ExternalCaller& external_;
  const SidecarInfo& info_;
};

}  // namespace skiff
