// The callee's side of an invocation: take a call from the transport, hand it to the local app
// over the app channel, and stream the app's answer back.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "call/call_context.hpp"
#include "config/live_settings.hpp"
#include "config/settings.hpp"
#include "invoke/app_client.hpp"
#include "invoke/middleware_chain.hpp"
#include "plugin/components.hpp"
#include "telemetry/service_metrics.hpp"

namespace skiff {

class Callee {
 public:
  // `app` is the app's HTTP or gRPC channel; it outlives the Callee.
  Callee(const Settings& settings, AppClient& app);
  // The call's context is made here: this is where a call from another sidecar enters.
  boost::asio::awaitable<void> serve(ServerCall call, CallHead head);
  // Counts calls under Dapr's metric names; null: metrics off.
  void set_metrics(ServiceMetrics* metrics) { metrics_ = metrics; }
  // Runs these middleware's inbound hooks before the app is called; null or empty: none.
  void set_middleware(const MiddlewareChain* chain) {
    middleware_ = chain && !chain->empty() ? chain : nullptr;
  }
  // Records the spans of sampled calls; null or inactive: none.
  void set_spans(const SpanSink* spans) { spans_ = spans; }
  // Whether calls record spans now (a reload may add or remove the observers that take them).
  bool recording_spans() const { return spans_ && spans_->active(); }
  // Access control and the app's token from these, as a reload changes them; null: the fixed
  // settings.
  void set_live(const LiveSettings* live) { live_ = live; }

 private:
  boost::asio::awaitable<void> serve_verified(ServerCall& call, CallHead& head,
                                              CallContext& context);
  bool start_trace(CallHead& head, CallContext& context) const;
  boost::asio::awaitable<void> answer_rejection(ServerCall& call, const Rejection& rejection) const;
  void record_spans(const CallHead& head, const CallContext& context) const;
  const Settings& settings_;
  const LiveSettings* live_ = nullptr;
  AppClient& app_;
  ServiceMetrics* metrics_ = nullptr;
  const SpanSink* spans_ = nullptr;
  const MiddlewareChain* middleware_ = nullptr;
};

}  // namespace skiff
