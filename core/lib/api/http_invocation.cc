#include "api/http_invocation.hpp"

#include <spdlog/spdlog.h>

#include <boost/beast/core/string.hpp>

#include "common/http_syntax.hpp"

namespace skiff {

namespace asio = boost::asio;

Response invocation_failure(const InvokeTarget& target, const Error& error) {
  return dapr_error(http_status_for(error.code), "ERR_DIRECT_INVOKE",
                    "fail to invoke, id: " + target.app_id + ", err: " + error.message);
}

CallHead http_call_head(const Caller& caller, const InvokeTarget& target,
                        const http::request_header<>& req, const std::string& client_address,
                        CallContext& context) {
  CallHead head = caller.base_head(target);
  head.verb = std::string(req.method_string());
  head.headers = forwardable_request_headers(req);
  std::string forwarded_for = client_address;
  if (auto it = req.find("X-Forwarded-For"); it != req.end()) {
    forwarded_for = std::string(it->value()) + ", " + client_address;
    std::erase_if(head.headers,
                  [](const Header& h) { return boost::beast::iequals(h.name, "X-Forwarded-For"); });
  }
  head.headers.push_back({"X-Forwarded-For", forwarded_for});
  if (auto host = req[http::field::host]; !host.empty()) {
    head.headers.push_back({"X-Forwarded-Host", std::string(host)});
    head.headers.push_back({"Forwarded", "for=" + client_address + ";host=" + std::string(host)});
  }
  caller.add_caller_headers(head, context, /*server_span=*/true);
  // A streamed body keeps its announced length, so the callee's app sees the same framing.
  if (auto len = req.find(http::field::content_length); len != req.end())
    head.headers.push_back({"Content-Length", std::string(len->value())});
  return head;
}

asio::awaitable<void> invoke_over_http(Caller& caller, const InvokeTarget& target,
                                       HttpExchange& exchange) {
  auto tracked = caller.track();
  auto& context = exchange.context();
  const CallHead head =
      http_call_head(caller, target, exchange.header(), exchange.client_address(), context);
  std::string* whole = exchange.whole() ? &exchange.body() : nullptr;
  BodySource* stream = exchange.whole() ? nullptr : &exchange;
  auto opened = co_await caller.open(target, head, context, whole, stream);
  if (!opened) {
    auto res = invocation_failure(target, opened.error());
    co_await exchange.send(res);
    co_return;
  }
  ResponseHead& rh = opened->head;
  if (!opened->call) {  // a middleware's rejection: the answer is made here, whole
    co_await exchange.answer(static_cast<unsigned>(rh.http_status), rh.headers,
                             opened->local_body.size(), opened->local_body, true);
    co_return;
  }
  auto& call = *opened->call;
  encode_binary_values(rh.headers);  // a gRPC app's binary metadata, for an HTTP caller
  // The trace the call joined goes back to the calling app, as Dapr's sidecar answers.
  std::erase_if(rh.headers,
                [](const Header& h) { return names_field(h.name, kTraceParentHeader); });
  for (const auto& h : head.headers)
    if (h.name == kTraceParentHeader) rh.headers.push_back(h);
  const auto length = content_length_of(rh.headers);

  for (bool started = false;;) {
    auto chunk = co_await call.read();
    if (chunk.status != SKIFF_OK) {
      if (!started) {
        auto res = invocation_failure(
            target, make_error(SKIFF_ERR_INTERNAL, "response interrupted: " + chunk.message));
        co_await exchange.send(res);
      } else {
        // The head is out: the only way left to say "incomplete" is to cut the connection.
        spdlog::warn("response from {} interrupted: {}", target.app_id, chunk.message);
      }
      co_return;
    }
    started = true;
    if (!co_await exchange.answer(static_cast<unsigned>(rh.http_status), rh.headers, length,
                                  chunk.chunk, chunk.end_of_body)) {
      call.cancel();  // the app went away: the callee's app call is cancelled too
      co_return;
    }
    if (chunk.end_of_body) co_return;
  }
}

}  // namespace skiff
