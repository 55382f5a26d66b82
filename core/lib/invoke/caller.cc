#include "invoke/caller.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

namespace skiff {

namespace asio = boost::asio;

namespace {
constexpr size_t kChunkSize = 64 * 1024;
}

Caller::Caller(const Settings& settings, std::shared_ptr<ResolverInstance> resolver,
               std::shared_ptr<TransportInstance> transport)
    : settings_(settings), resolver_(std::move(resolver)), transport_(std::move(transport)) {}

Response Caller::failure(unsigned status, const InvokeTarget& target, std::string_view why) const {
  return dapr_error(status, "ERR_DIRECT_INVOKE",
                    "fail to invoke, id: " + target.app_id + ", err: " + std::string(why));
}

CallHead Caller::make_head(const InvokeTarget& target, const Request& req,
                           const std::string& client_address) const {
  CallHead head;
  head.target_app_id = target.app_id;
  head.target_namespace = target.app_namespace;
  head.caller_app_id = settings_.app_id;
  head.caller_namespace = settings_.app_namespace;
  head.method = target.method;
  head.verb = std::string(req.method_string());
  head.query = target.query;
  head.headers = forwardable_request_headers(req.base());
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
  if (!settings_.app_id.empty()) head.headers.push_back({"dapr-caller-app-id", settings_.app_id});
  head.headers.push_back({"dapr-caller-namespace", settings_.app_namespace});
  head.headers.push_back({"dapr-callee-app-id", target.app_id});
  return head;
}

asio::awaitable<Response> Caller::invoke(const InvokeTarget& target, Request& req,
                                         const std::string& client_address) {
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  struct Done {
    std::atomic<int>& n;
    ~Done() { n.fetch_sub(1, std::memory_order_relaxed); }
  } done{in_flight_};
  auto resolved = co_await resolver_->resolve(target.app_id, target.app_namespace);
  if (resolved.status != SKIFF_OK || resolved.addresses.empty()) {
    std::string why = resolved.status == SKIFF_OK || resolved.status == SKIFF_ERR_NOT_FOUND
                          ? "couldn't find service: " + target.app_id
                          : "name resolution failed: " + resolved.message;
    co_return failure(500, target, why);
  }

  const CallHead head = make_head(target, req, client_address);
  const auto& addresses = resolved.addresses;
  const int max_attempts = static_cast<int>(settings_.unavailable_retries) + 1;
  for (int attempt = 0;; ++attempt) {
    const std::string& address = addresses[attempt % addresses.size()];
    Attempt result = co_await call_once(address, head, req.body(), target);
    if (result.delivered || attempt + 1 >= max_attempts) co_return std::move(result.response);
    resolver_->report_unavailable(target.app_id, target.app_namespace, address);
    spdlog::debug("sidecar {} of {} unreachable, retrying ({}/{})", address, target.app_id,
                  attempt + 1, max_attempts - 1);
    // Another instance is tried at once; the same one only after a pause.
    if (static_cast<size_t>(attempt + 1) >= addresses.size() && settings_.retry_backoff_ms) {
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(std::chrono::milliseconds(settings_.retry_backoff_ms));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
}

asio::awaitable<Caller::Attempt> Caller::call_once(const std::string& address, const CallHead& head,
                                                   const std::string& body,
                                                   const InvokeTarget& target) {
  auto call = transport_->start_call(address, head);
  if (!call)
    co_return Attempt{call.error().code != SKIFF_ERR_UNAVAILABLE,
                      failure(500, target, "cannot call " + address + ": " + call.error().message)};

  // The body goes out in chunks, each write awaited: the transport's backpressure paces us.
  std::string_view rest(body);
  do {
    auto piece = rest.substr(0, kChunkSize);
    rest.remove_prefix(piece.size());
    auto written = co_await call->write(piece, rest.empty());
    if (written.status != SKIFF_OK) break;  // read_head reports why
  } while (!rest.empty());

  auto head_result = co_await call->read_head();
  if (head_result.status != SKIFF_OK) {
    bool unreachable = head_result.status == SKIFF_ERR_UNAVAILABLE;
    unsigned status = unreachable ? 500 : http_status_for(head_result.status);
    co_return Attempt{!unreachable, failure(status, target, head_result.message)};
  }

  Response res{static_cast<http::status>(head_result.head.http_status), 11};
  copy_end_to_end_headers(head_result.head.headers, res.base());
  if (head.verb == "HEAD")
    for (const auto& h : head_result.head.headers)
      if (boost::beast::iequals(h.name, "Content-Length"))
        res.set(http::field::content_length, h.value);
  for (;;) {
    auto chunk = co_await call->read();
    if (chunk.status != SKIFF_OK)
      co_return Attempt{true, failure(500, target, "response interrupted: " + chunk.message)};
    if (res.body().empty())
      res.body() = std::move(chunk.chunk);  // one piece: no copy
    else
      res.body().append(chunk.chunk);
    if (chunk.end_of_body) break;
  }
  co_return Attempt{true, std::move(res)};
}

}  // namespace skiff
