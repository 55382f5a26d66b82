#include "invoke/callee.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <cctype>

#include "call/status.hpp"
#include "common/api_token.hpp"
#include "common/http_syntax.hpp"
#include "invoke/access_control.hpp"
#include "invoke/call_head_check.hpp"
#include "invoke/caller.hpp"
#include "invoke/trace_headers.hpp"
#include "security/spiffe_id.hpp"

namespace skiff {

namespace asio = boost::asio;

Callee::Callee(const Settings& settings, AppClient& app) : settings_(settings), app_(app) {}

namespace {

// The verb a policy is matched on: the one the app will see. A gRPC app gets POST for any verb
// that is not one of HTTP's own (AppCallback's verb enum has no other), an HTTP app the verb in
// upper case as policies write it.
std::string verb_for_policy(std::string_view verb, bool grpc_app) {
  std::string v(verb);
  for (auto& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static constexpr std::string_view kStandard[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                   "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  if (grpc_app && std::find(std::begin(kStandard), std::end(kStandard), v) == std::end(kStandard))
    return "POST";
  return v;
}

void take_caller_from_certificate(CallHead& head, CallContext& context) {
  // With mTLS the transport verified who calls: that, not the head's claim, is what the app sees
  // as dapr-caller-app-id and dapr-caller-namespace, and what access control decides on.
  if (head.peer_identity.empty()) return;
  auto id = parse_spiffe_id(head.peer_identity);
  if (!id) return;  // the transport checked it; never reached
  const auto& caller = context.caller.emplace(std::move(*id));
  std::erase_if(head.headers, [](const Header& h) {
    return names_field(h.name, "dapr-caller-app-id") ||
           names_field(h.name, "dapr-caller-namespace");
  });
  head.caller_namespace = caller.app_namespace;
  head.caller_app_id = caller.app_id == kAnonymousApp ? std::string() : caller.app_id;
  if (!head.caller_app_id.empty())
    head.headers.push_back({"dapr-caller-app-id", head.caller_app_id});
  head.headers.push_back({"dapr-caller-namespace", head.caller_namespace});
}

}  // namespace

asio::awaitable<void> Callee::serve(ServerCall call, CallHead head) {
  if (head.target_app_id != settings_.app_id || head.target_namespace != settings_.app_namespace) {
    // A stale resolver entry can point at a port that another app's sidecar now uses. Nothing was
    // delivered, so the caller may safely try another instance: answer "unavailable".
    // Named, not a temporary: GCC 12 mis-destroys temporaries of a ?: inside a co_await.
    const std::string serves = settings_.app_id.empty()
                                   ? std::string("no app")
                                   : settings_.app_id + "." + settings_.app_namespace;
    const std::string why = "the sidecar at this address serves " + serves + ", not " +
                            head.target_app_id + "." + head.target_namespace;
    co_await call.fail(SKIFF_ERR_UNAVAILABLE, why);
    co_return;
  }
  if (settings_.mtls && head.peer_identity.empty()) {
    // The transport said it does mTLS, yet brought no verified caller: believe no claim.
    co_await call.fail(SKIFF_ERR_UNAUTHENTICATED, "no verified caller identity on this connection");
    co_return;
  }
  CallContext context(CallIngress::kTransport);
  take_caller_from_certificate(head, context);
  const bool recording = recording_spans() && start_trace(head, context);
  if (metrics_) metrics_->request_received(head.caller_app_id);
  co_await serve_verified(call, head, context);
  // The status the caller's app will see: the app's, or the one skiff maps a failure to. A call
  // whose caller went away before anything was answered has none.
  context.http_status = call.outcome().http_status;
  context.failure = call.outcome().failure;
  if (recording) record_spans(head, context);
  if (metrics_)
    if (const int status = context.final_http_status())
      metrics_->response_sent(head.caller_app_id, status);
}

bool Callee::start_trace(CallHead& head, CallContext& context) const {
  // Only a trace the caller's sidecar marked sampled is recorded here (parent-based sampling),
  // so that both sidecars record the same calls.
  std::optional<TraceParent> parent;
  for (const auto& h : head.headers)
    if (names_field(h.name, kTraceParentHeader)) parent = parse_traceparent(h.value);
  if (!parent || !parent->sampled) return false;
  auto& trace = context.trace;
  trace = CallTrace{};
  trace.trace_id = parent->trace_id;
  trace.parent = parent->span_id;
  trace.has_parent = true;
  trace.sampled = true;
  trace.recording = true;
  trace.has_server_span = true;
  trace.server_span = new_span_id();
  trace.client_span = new_span_id();
  // The app's own span continues from this sidecar's client span.
  TraceParent toward_app = *parent;
  toward_app.span_id = trace.client_span;
  set_traceparent(head.headers, toward_app);
  return true;
}

void Callee::record_spans(const CallHead& head, const CallContext& context) const {
  const auto& trace = context.trace;
  const int status = context.final_http_status();
  const std::string status_text = status ? std::to_string(status) : std::string();
  const uint64_t ended = unix_nanos();
  if (trace.client_started) {
    // The call to the app, as OpenTelemetry's HTTP (or gRPC) client conventions name it.
    const bool proxied = is_grpc_proxy(head);
    std::string name = app_.speaks_grpc()
                           ? (proxied ? head.method : "dapr.proto.runtime.v1.AppCallback/OnInvoke")
                           : head.verb;
    if (name.starts_with('/')) name.erase(0, 1);
    const std::string port = std::to_string(settings_.app_port);
    const std::string url =
        "http://" + settings_.app_channel_address + ":" + port + "/" + head.method;
    spans_->emit({.trace = trace,
                  .id = trace.client_span,
                  .parent = &trace.server_span,
                  .name = name,
                  .kind = SKIFF_SPAN_CLIENT,
                  .start_unix_nanos = trace.client_started,
                  .end_unix_nanos = ended,
                  .status = status == 0 || status >= 400 ? SKIFF_ERR_UNKNOWN : SKIFF_OK,
                  .status_message = {},
                  .attributes = {{"rpc.system", app_.speaks_grpc() ? "grpc" : ""},
                                 {"http.request.method", app_.speaks_grpc() ? "" : head.verb},
                                 {"server.address", settings_.app_channel_address},
                                 {"server.port", port},
                                 {"url.full", app_.speaks_grpc() ? "" : url},
                                 {"http.response.status_code", status_text}}});
  }
  spans_->emit({.trace = trace,
                .id = trace.server_span,
                .parent = &trace.parent,
                .name = "skiff.Invocation/Call",
                .kind = SKIFF_SPAN_SERVER,
                .start_unix_nanos = context.started_unix_nanos(),
                .end_unix_nanos = ended,
                .status = context.failure != SKIFF_OK ? context.failure
                          : status >= 500             ? SKIFF_ERR_UNKNOWN
                                                      : SKIFF_OK,
                .status_message = {},
                .attributes = {{"rpc.system", "skiff"},
                               {"rpc.service", "skiff.Invocation"},
                               {"rpc.method", "Call"},
                               {"skiff.app_id", settings_.app_id},
                               {"skiff.caller.app_id", head.caller_app_id},
                               {"skiff.caller.namespace", head.caller_namespace},
                               {"skiff.method", head.method},
                               {"http.response.status_code", status_text}}});
}

asio::awaitable<void> Callee::serve_verified(ServerCall& call, CallHead& head,
                                             CallContext& context) {
  // One snapshot for the call: a reload while it runs does not change its policy half-way.
  const auto now = settings_now(live_, settings_);
  if (now->access_control.configured) {
    // Decided before anything reaches the app, on who the certificate says calls.
    const auto& caller = context.caller;
    const bool proxied = is_grpc_proxy(head);
    std::string operation = head.method.starts_with('/') ? head.method : "/" + head.method;
    const std::string verb =
        proxied ? std::string() : verb_for_policy(head.verb, app_.speaks_grpc());
    auto decision = caller ? decide_access(now->access_control, *caller, operation, verb)
                           : AccessDecision{false, "access control needs a verified caller"};
    if (!decision.allowed) {
      spdlog::info("{}", decision.why);
      co_await call.fail(SKIFF_ERR_PERMISSION_DENIED, decision.why);
      co_return;
    }
  }
  // The app's token is this sidecar's to send; whatever came with the call goes.
  std::erase_if(head.headers,
                [](const Header& h) { return boost::beast::iequals(h.name, kApiTokenHeader); });
  if (!now->app_token.empty())
    head.headers.push_back({std::string(kApiTokenHeader), now->app_token});
  // The middleware's states for this call live until the app answered.
  std::optional<MiddlewareChain::CallState> middleware_state;
  if (middleware_) {
    middleware_state.emplace(middleware_->start_call());
    if (auto rejected = co_await middleware_->inbound(head, *middleware_state)) {
      co_await answer_rejection(call, *rejected);
      co_return;
    }
  }
  if (context.trace.recording) context.trace.client_started = unix_nanos();
  co_await app_.serve(call, head);
}

asio::awaitable<void> Callee::answer_rejection(ServerCall& call, const Rejection& rejection) const {
  // The request is read to its end first, so that the caller's sidecar is never left writing
  // into a call that already answered.
  for (;;) {
    auto chunk = co_await call.read();
    if (chunk.status != SKIFF_OK) co_return;  // the caller went away
    if (chunk.end_of_body) break;
  }
  auto answer = answer_for(rejection);
  if ((co_await call.write_head(answer.head)).status != SKIFF_OK) co_return;
  co_await call.write(answer.body, true);
}

}  // namespace skiff
