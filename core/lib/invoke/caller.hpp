// The caller's side of an invocation: resolve the target app, carry the request to one of its
// sidecars over the transport, retry on another instance when a sidecar cannot be reached, and
// relay the answer (or the failure) to the app.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>

#include "call/body_source.hpp"
#include "call/call_context.hpp"
#include "config/live_settings.hpp"
#include "config/settings.hpp"
#include "invoke/middleware_chain.hpp"
#include "invoke/target.hpp"
#include "invoke/trace_headers.hpp"
#include "plugin/components.hpp"
#include "telemetry/service_metrics.hpp"

namespace skiff {

class Caller {
 public:
  Caller(const Settings& settings, std::shared_ptr<ResolverInstance> resolver,
         std::shared_ptr<TransportInstance> transport);

  // A call whose response head has arrived; its body is read from `call`. A call a middleware
  // rejected has no `call`: its answer is `head` and `local_body`, made here.
  struct Opened {
    std::optional<ClientCall> call;
    ResponseHead head;
    std::string local_body;
  };
  // Runs the middleware's outbound hooks, resolves the target and carries head and body: a whole
  // body (`body`) is sent again to another instance while nothing was delivered; a streamed one
  // (`stream`) is sent once; then the response hooks. Errors carry the status the caller's app
  // should see (see http_status_for). `context` gets the attempts and the target's answer.
  boost::asio::awaitable<Result<Opened>> open(const InvokeTarget& target, const CallHead& head,
                                              CallContext& context, const std::string* body,
                                              BodySource* stream);

  // Runs the middleware's outbound hooks, resolves the target, starts a call whose body the
  // caller streams itself (gRPC proxy mode) and sends its head. Tried on the next instance only
  // when the head could not be delivered. A middleware's rejection is an error with the status
  // Dapr maps its HTTP status to.
  boost::asio::awaitable<Result<ClientCall>> connect(const InvokeTarget& target,
                                                     const CallHead& head, CallContext& context);

  // The head every call starts from: target, this sidecar as the caller, method and query.
  CallHead base_head(const InvokeTarget& target) const;
  // The headers a caller's sidecar owns: dapr-caller-app-id, dapr-caller-namespace and
  // dapr-callee-app-id, as Dapr adds them, and the W3C trace context (trace_headers.hpp).
  // Returns the traceparent the call carries; `context` gets the trace and the target. With
  // spans recorded, the trace gets this sidecar's client span (and a server span when the entry
  // point records one: `server_span`), and the traceparent names the client span.
  TraceParent add_caller_headers(CallHead& head, CallContext& context,
                                 bool server_span = false) const;
  const Settings& settings() const { return settings_; }

  // The resolver calls entering now use (a reload may replace it).
  std::shared_ptr<ResolverInstance> resolver() const {
    return resolver_.load(std::memory_order_acquire);
  }
  // Calls that start afterwards resolve with `resolver`; those under way finish with theirs.
  void replace_resolver(std::shared_ptr<ResolverInstance> resolver) {
    resolver_.store(std::move(resolver), std::memory_order_release);
  }

  // Invocations started and not finished, for a graceful shutdown.
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  // Counts an invocation in flight while it lives.
  struct InFlight {
    explicit InFlight(std::atomic<int>& n) : n_(n) { n_.fetch_add(1, std::memory_order_relaxed); }
    ~InFlight() { n_.fetch_sub(1, std::memory_order_relaxed); }
    std::atomic<int>& n_;
  };
  InFlight track() { return InFlight(in_flight_); }

  // Counts calls under Dapr's metric names; null: metrics off.
  void set_metrics(ServiceMetrics* metrics) { metrics_ = metrics; }
  // Runs these middleware on every call; null or empty: none.
  void set_middleware(const MiddlewareChain* chain) {
    middleware_ = chain && !chain->empty() ? chain : nullptr;
  }
  // Records spans of sampled calls into `spans` while it is active; null: none.
  void set_spans(const SpanSink* spans) { spans_ = spans; }
  // Whether calls record spans now (a reload may add or remove the observers that take them).
  bool recording_spans() const { return spans_ && spans_->active(); }
  const SpanSink* spans() const { return recording_spans() ? spans_ : nullptr; }
  // Sampling and retries from these, as a reload changes them; null: the fixed settings.
  void set_live(const LiveSettings* live) { live_ = live; }
  // The live settings now (the fixed ones without set_live): what a call entering here reads its
  // reloadable keys from.
  std::shared_ptr<const Settings> settings_now() const {
    return skiff::settings_now(live_, settings_);
  }

 private:
  static Opened rejected_answer(const Rejection& rejection, CallContext& context);
  boost::asio::awaitable<Result<Opened>> open_observed(const InvokeTarget& target,
                                                       const CallHead& head, CallContext& context,
                                                       const std::string* body, BodySource* stream);
  boost::asio::awaitable<Result<ClientCall>> connect_observed(const InvokeTarget& target,
                                                              const CallHead& head,
                                                              CallContext& context);
  boost::asio::awaitable<Result<Opened>> open_uncounted(const InvokeTarget& target,
                                                        const CallHead& head, CallContext& context,
                                                        const std::string* body,
                                                        BodySource* stream);
  // All attempts of open_uncounted, without recording the outcome in the context.
  boost::asio::awaitable<Result<Opened>> attempt_all(const InvokeTarget& target,
                                                     const CallHead& head, CallContext& context,
                                                     const std::string* body, BodySource* stream);
  void record_client_span(const InvokeTarget& target, const CallContext& context, uint64_t started,
                          const Error* error) const;
  boost::asio::awaitable<Result<ClientCall>> connect_uncounted(const InvokeTarget& target,
                                                               const CallHead& head,
                                                               CallContext& context);
  struct Attempt {
    bool delivered = false;  // false: the peer could not be reached, retrying is safe
    Result<Opened> result;
  };
  // The target's sidecar addresses, or why there are none.
  boost::asio::awaitable<Result<std::vector<std::string>>> addresses_of(const InvokeTarget& target);
  boost::asio::awaitable<Attempt> call_once(const std::string& address, const CallHead& head,
                                            const std::string* body, BodySource* stream);

  const Settings& settings_;
  const LiveSettings* live_ = nullptr;
  // Replaced by a reload; a call keeps the one it resolved with until it is done.
  std::atomic<std::shared_ptr<ResolverInstance>> resolver_;
  std::shared_ptr<TransportInstance> transport_;
  std::atomic<int> in_flight_{0};
  ServiceMetrics* metrics_ = nullptr;
  const SpanSink* spans_ = nullptr;
  const MiddlewareChain* middleware_ = nullptr;
};

// Marks a call head as a proxied gRPC call (its body is framed gRPC messages); only sidecars
// read it, apps never see it.
inline constexpr std::string_view kGrpcProxyHeader = "skiff-grpc-proxy";
// A proxied gRPC call: its body is framed gRPC messages (the caller's sidecar marks it).
inline bool is_grpc_proxy(const CallHead& head) {
  for (const auto& h : head.headers)
    if (h.name == kGrpcProxyHeader) return true;
  return false;
}

// The Content-Length among transport headers, when there is a valid one.
std::optional<uint64_t> content_length_of(const std::vector<Header>& headers);

}  // namespace skiff
