#include "invoke/caller.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/string.hpp>

#include "call/status.hpp"
#include "common/http_syntax.hpp"
#include "invoke/call_head_check.hpp"

namespace skiff {

namespace asio = boost::asio;

namespace {
constexpr size_t kChunkSize = 64 * 1024;
}

std::optional<uint64_t> content_length_of(const std::vector<Header>& headers) {
  for (const auto& h : headers) {
    if (!boost::beast::iequals(h.name, "Content-Length")) continue;
    if (auto n = parse_content_length(h.value)) return n;
  }
  return std::nullopt;
}

Caller::Caller(const Settings& settings, std::shared_ptr<ResolverInstance> resolver,
               std::shared_ptr<TransportInstance> transport)
    : settings_(settings), resolver_(std::move(resolver)), transport_(std::move(transport)) {}

CallHead Caller::base_head(const InvokeTarget& target) const {
  CallHead head;
  head.target_app_id = target.app_id;
  head.target_namespace = target.app_namespace;
  head.caller_app_id = settings_.app_id;
  head.caller_namespace = settings_.app_namespace;
  head.method = target.method;
  head.query = target.query;
  return head;
}

TraceParent Caller::add_caller_headers(CallHead& head, CallContext& context,
                                       bool server_span) const {
  // The caller's identity is this sidecar's to say: a client's own copy is dropped, as Dapr does.
  std::erase_if(head.headers, [](const Header& h) {
    return names_field(h.name, "dapr-caller-app-id") ||
           names_field(h.name, "dapr-caller-namespace") ||
           names_field(h.name, "dapr-callee-app-id");
  });
  if (!settings_.app_id.empty()) head.headers.push_back({"dapr-caller-app-id", settings_.app_id});
  head.headers.push_back({"dapr-caller-namespace", settings_.app_namespace});
  head.headers.push_back({"dapr-callee-app-id", head.target_app_id});
  context.target_app_id = head.target_app_id;
  return join_trace(head.headers, settings_now()->tracing_sampling_rate, recording_spans(),
                    {.server = server_span, .client = true}, context);
}

void Caller::record_client_span(const InvokeTarget& target, const CallContext& context,
                                uint64_t started, const Error* error) const {
  const auto& trace = context.trace;
  const SpanId* parent = trace.has_server_span ? &trace.server_span
                         : trace.has_parent    ? &trace.parent
                                               : nullptr;
  const std::string retries = std::to_string(std::max(0, context.attempts - 1));
  const std::string status = std::to_string(context.http_status);
  spans_->emit({.trace = trace,
                .id = trace.client_span,
                .parent = parent,
                .name = "skiff.Invocation/Call",
                .kind = SKIFF_SPAN_CLIENT,
                .start_unix_nanos = started,
                .end_unix_nanos = unix_nanos(),
                .status = error ? error->code : SKIFF_OK,
                .status_message = error ? std::string_view(error->message) : std::string_view(),
                .attributes = {{"rpc.system", "skiff"},
                               {"rpc.service", "skiff.Invocation"},
                               {"rpc.method", "Call"},
                               {"server.address", context.address},
                               {"skiff.app_id", settings_.app_id},
                               {"skiff.target.app_id", target.app_id},
                               {"skiff.target.namespace", target.app_namespace},
                               {"skiff.method", target.method},
                               {"skiff.retries", retries},
                               {"http.response.status_code", error ? "" : status}}});
}

asio::awaitable<Result<std::vector<std::string>>> Caller::addresses_of(const InvokeTarget& target) {
  // Held for the whole resolve: a reload may replace the resolver meanwhile.
  const auto current = resolver();
  auto resolved = co_await current->resolve(target.app_id, target.app_namespace);
  if (resolved.status == SKIFF_OK && !resolved.addresses.empty())
    co_return std::move(resolved.addresses);
  std::string why = resolved.status == SKIFF_OK || resolved.status == SKIFF_ERR_NOT_FOUND
                        ? "couldn't find service: " + target.app_id
                        : "name resolution failed: " + resolved.message;
  co_return make_error(SKIFF_ERR_INTERNAL, why);
}

asio::awaitable<Result<Caller::Opened>> Caller::open(const InvokeTarget& target,
                                                     const CallHead& head, CallContext& context,
                                                     const std::string* body, BodySource* stream) {
  if (!middleware_) co_return co_await open_observed(target, head, context, body, stream);
  // The hooks edit a copy: only a sidecar with middleware pays for it.
  CallHead edited = head;
  auto state = middleware_->start_call();
  auto rejected = co_await middleware_->outbound(edited, state);
  if (rejected) co_return rejected_answer(*rejected, context);
  auto opened = co_await open_observed(target, edited, context, body, stream);
  if (!opened) co_return opened;
  rejected = co_await middleware_->response(edited, opened->head, state);
  if (rejected) {
    opened->call->cancel();  // the target's answer is not wanted
    co_return rejected_answer(*rejected, context);
  }
  co_return opened;
}

Caller::Opened Caller::rejected_answer(const Rejection& rejection, CallContext& context) {
  auto answer = answer_for(rejection);
  context.http_status = answer.head.http_status;
  return Opened{std::nullopt, std::move(answer.head), std::move(answer.body)};
}

asio::awaitable<Result<Caller::Opened>> Caller::open_observed(const InvokeTarget& target,
                                                              const CallHead& head,
                                                              CallContext& context,
                                                              const std::string* body,
                                                              BodySource* stream) {
  const bool recording = recording_spans() && context.trace.recording;
  if (!metrics_ && !recording)
    co_return co_await open_uncounted(target, head, context, body, stream);
  const auto started = ServiceMetrics::Clock::now();
  const uint64_t started_unix = recording ? unix_nanos() : 0;
  if (metrics_) metrics_->request_sent(target.app_id, false);
  auto opened = co_await open_uncounted(target, head, context, body, stream);
  if (metrics_) {
    if (opened)
      metrics_->response_received(target.app_id, opened->head.http_status, false, started);
    else
      metrics_->call_failed(target.app_id, opened.error().code);
  }
  if (recording)
    record_client_span(target, context, started_unix, opened ? nullptr : &opened.error());
  co_return opened;
}

asio::awaitable<Result<Caller::Opened>> Caller::open_uncounted(const InvokeTarget& target,
                                                               const CallHead& head,
                                                               CallContext& context,
                                                               const std::string* body,
                                                               BodySource* stream) {
  auto opened = co_await attempt_all(target, head, context, body, stream);
  if (opened) {
    context.http_status = opened->head.http_status;
  } else {
    context.failure = opened.error().code;
  }
  co_return opened;
}

asio::awaitable<Result<Caller::Opened>> Caller::attempt_all(const InvokeTarget& target,
                                                            const CallHead& head,
                                                            CallContext& context,
                                                            const std::string* body,
                                                            BodySource* stream) {
  if (auto checked = check_call_head(head, BinaryValues::kSkipped); !checked)
    co_return checked.error();
  auto resolved = co_await addresses_of(target);
  if (!resolved) co_return resolved.error();
  const auto& addresses = *resolved;
  // A streamed body cannot be sent twice: one attempt.
  const auto now = settings_now();
  const int max_attempts = stream ? 1 : static_cast<int>(now->unavailable_retries) + 1;
  for (int attempt = 0;; ++attempt) {
    const std::string& address = addresses[attempt % addresses.size()];
    context.attempts = attempt + 1;
    context.address = address;
    Attempt result = co_await call_once(address, head, body, stream);
    if (result.delivered) co_return std::move(result.result);
    // Every instance found unreachable is reported, whether or not a retry follows: a streamed
    // call or a call with no retries left must not leave the dead address in everyone's answers.
    resolver()->report_unavailable(target.app_id, target.app_namespace, address);
    if (attempt + 1 >= max_attempts) co_return std::move(result.result);
    spdlog::debug("sidecar {} of {} unreachable, retrying ({}/{})", address, target.app_id,
                  attempt + 1, max_attempts - 1);
    // Another instance is tried at once; the same one only after a pause.
    if (static_cast<size_t>(attempt + 1) >= addresses.size() && now->retry_backoff_ms) {
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(std::chrono::milliseconds(now->retry_backoff_ms));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
}

asio::awaitable<Result<ClientCall>> Caller::connect(const InvokeTarget& target,
                                                    const CallHead& head, CallContext& context) {
  if (!middleware_) co_return co_await connect_observed(target, head, context);
  CallHead edited = head;
  auto state = middleware_->start_call();
  if (auto rejected = co_await middleware_->outbound(edited, state)) {
    context.http_status = rejected->http_status;
    co_return make_error(status_for_http(static_cast<unsigned>(rejected->http_status)),
                         rejected->message);
  }
  co_return co_await connect_observed(target, edited, context);
}

asio::awaitable<Result<ClientCall>> Caller::connect_observed(const InvokeTarget& target,
                                                             const CallHead& head,
                                                             CallContext& context) {
  // A streamed call's answer is relayed by its owner: only the start and a failure to start
  // are counted here, as Dapr counts proxied streams; its client span ends when it is set up.
  if (metrics_) metrics_->request_sent(target.app_id, true);
  const bool recording = recording_spans() && context.trace.recording;
  const uint64_t started_unix = recording ? unix_nanos() : 0;
  auto started = co_await connect_uncounted(target, head, context);
  if (!started) {
    context.failure = started.error().code;
    if (metrics_) metrics_->call_failed(target.app_id, started.error().code);
  }
  if (recording)
    record_client_span(target, context, started_unix, started ? nullptr : &started.error());
  co_return started;
}

asio::awaitable<Result<ClientCall>> Caller::connect_uncounted(const InvokeTarget& target,
                                                              const CallHead& head,
                                                              CallContext& context) {
  if (auto checked = check_call_head(head, BinaryValues::kSkipped); !checked)
    co_return checked.error();
  auto resolved = co_await addresses_of(target);
  if (!resolved) co_return resolved.error();
  Error last;
  for (const auto& address : *resolved) {
    ++context.attempts;
    context.address = address;
    auto call = transport_->start_call(address, head);
    if (call) {
      // The head goes out at once (a server may speak first in a bidirectional call), and its
      // write says whether the instance can be reached while another one can still be tried.
      auto written = co_await call->write({}, false);
      if (written.status == SKIFF_OK) co_return std::move(*call);
      // Why the write failed is the transport's to say: a deadline that passed while
      // connecting is not an unreachable instance.
      auto why = co_await call->read_head();
      if (why.status != SKIFF_ERR_UNAVAILABLE)
        co_return make_error(why.status == SKIFF_OK ? written.status : why.status,
                             why.status == SKIFF_OK ? written.message : why.message);
      last = make_error(SKIFF_ERR_UNAVAILABLE, "cannot call " + address + ": " + why.message);
    } else {
      last = call.error();
      if (last.code != SKIFF_ERR_UNAVAILABLE) break;
    }
    resolver()->report_unavailable(target.app_id, target.app_namespace, address);
  }
  co_return last;
}

asio::awaitable<Caller::Attempt> Caller::call_once(const std::string& address, const CallHead& head,
                                                   const std::string* body, BodySource* stream) {
  auto call = transport_->start_call(address, head);
  if (!call) {
    bool unreachable = call.error().code == SKIFF_ERR_UNAVAILABLE;
    co_return Attempt{!unreachable, make_error(SKIFF_ERR_INTERNAL, "cannot call " + address + ": " +
                                                                       call.error().message)};
  }

  // The body goes out in pieces, each write awaited: the transport's backpressure paces us.
  if (body) {
    std::string_view rest(*body);
    do {
      auto piece = rest.substr(0, kChunkSize);
      rest.remove_prefix(piece.size());
      auto written = co_await call->write(piece, rest.empty());
      if (written.status != SKIFF_OK) break;  // read_head reports why
    } while (!rest.empty());
  } else {
    for (;;) {
      auto piece = co_await stream->read_some();
      if (!piece.ok) {
        call->cancel();
        co_return Attempt{true, make_error(SKIFF_ERR_INVALID_ARGUMENT, piece.error)};
      }
      auto written = co_await call->write(piece.data, piece.last);
      if (written.status != SKIFF_OK || piece.last) break;
    }
  }

  auto head_result = co_await call->read_head();
  if (head_result.status != SKIFF_OK) {
    bool unreachable = head_result.status == SKIFF_ERR_UNAVAILABLE;
    co_return Attempt{
        !unreachable,
        make_error(unreachable ? SKIFF_ERR_INTERNAL : head_result.status, head_result.message)};
  }
  co_return Attempt{true, Opened{std::move(*call), std::move(head_result.head), {}}};
}

}  // namespace skiff
