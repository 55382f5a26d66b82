// Routes the app-facing HTTP API: health, metadata, and service invocation in its three target
// forms (URL, dapr-app-id header, basic auth).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "api/external.hpp"
#include "api/http_exchange.hpp"
#include "api/sidecar_info.hpp"
#include "config/live_settings.hpp"
#include "config/settings.hpp"
#include "http/messages.hpp"
#include "invoke/caller.hpp"
#include "telemetry/service_metrics.hpp"

namespace skiff {

class Router {
 public:
  Router(const Settings& settings, Caller& caller, std::shared_ptr<ExternalCaller> external,
         const SidecarInfo& info);
  boost::asio::awaitable<void> handle(HttpExchange& exchange);
  // Counts requests under Dapr's HTTP server metrics; null: metrics off.
  void set_metrics(ServiceMetrics* metrics) { metrics_ = metrics; }
  // Records the server span of sampled invocations while `spans` is active; null: none.
  void set_spans(const SpanSink* spans) { spans_ = spans; }
  // The token, API logging, sampling and [[http_endpoints]] from these, as a reload changes them;
  // null: the fixed settings.
  void set_live(const LiveSettings* live) { live_ = live; }
  // A reload's new [[http_endpoints]]: calls from now on use them, calls under way finish on the
  // ones they started with.
  void replace_external(std::shared_ptr<ExternalCaller> external) {
    external_.store(std::move(external), std::memory_order_release);
  }

 private:
  boost::asio::awaitable<void> route(HttpExchange& exchange, const Settings& now);
  Response metadata(const Settings& now) const;
  void record_server_span(const CallContext& context, std::string_view method,
                          std::string_view route) const;
  void log_call(HttpExchange& exchange, std::string_view method, bool json) const;
  ServiceMetrics* metrics_ = nullptr;
  const SpanSink* spans_ = nullptr;
  bool recording_spans() const { return spans_ && spans_->active(); }
  const Settings& settings_;
  const LiveSettings* live_ = nullptr;
  Caller& caller_;
  std::atomic<std::shared_ptr<ExternalCaller>> external_;
  const SidecarInfo& info_;
};

}  // namespace skiff
