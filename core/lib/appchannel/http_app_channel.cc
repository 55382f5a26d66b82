#include "appchannel/http_app_channel.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <optional>

#include "common/deadline.hpp"

namespace skiff {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;

HttpAppChannel::HttpAppChannel(asio::io_context& io, const Settings& s)
    : io_(io),
      host_(s.app_channel_address),
      port_(static_cast<uint16_t>(s.app_port)),
      connect_timeout_ms_(s.app_connect_timeout_ms),
      timeout_ms_(s.app_timeout_ms),
      max_idle_(static_cast<size_t>(s.app_max_idle_connections)) {}

std::unique_ptr<HttpAppChannel::Stream> HttpAppChannel::take_idle() {
  std::lock_guard lock(mu_);
  if (idle_.empty()) return nullptr;
  auto s = std::move(idle_.back());
  idle_.pop_back();
  return s;
}

void HttpAppChannel::give_back(std::unique_ptr<Stream> stream) {
  stream->expires_never();
  std::lock_guard lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(stream));
}

asio::awaitable<Result<std::unique_ptr<HttpAppChannel::Stream>>> HttpAppChannel::connect() {
  boost::system::error_code ec;
  std::vector<tcp::endpoint> endpoints;
  {
    std::lock_guard lock(mu_);
    endpoints = endpoints_;
  }
  if (endpoints.empty()) {
    tcp::resolver resolver(io_);
    const std::string service = std::to_string(port_);
    auto results = co_await resolver.async_resolve(host_, service,
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
      co_return make_error(SKIFF_ERR_INTERNAL, "error invoking app channel: cannot resolve " +
                                                   host_ + ": " + ec.message());
    for (const auto& r : results) endpoints.push_back(r.endpoint());
    std::lock_guard lock(mu_);
    endpoints_ = endpoints;
  }
  auto stream = std::make_unique<Stream>(io_);
  stream->expires_after(std::chrono::milliseconds(connect_timeout_ms_));
  co_await stream->async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    auto why = ec == beast::error::timeout
                   ? "timed out after " + std::to_string(connect_timeout_ms_) + "ms"
                   : ec.message();
    co_return make_error(
        SKIFF_ERR_INTERNAL,
        "error invoking app channel: cannot connect to app at " + address() + ": " + why);
  }
  stream->socket().set_option(tcp::no_delay(true), ec);
  co_return std::move(stream);
}

asio::awaitable<Result<Response>> HttpAppChannel::send(Request req) {
  if (port_ == 0)
    co_return make_error(SKIFF_ERR_INTERNAL,
                         "error invoking app channel: this sidecar has no app (app.port is 0)");
  req.set(http::field::host, address());
  req.keep_alive(true);
  req.prepare_payload();
  const bool head = req.method() == http::verb::head;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
  const auto executor = co_await asio::this_coro::executor;

  // A pooled connection may have been closed by the app while idle; such a failure before any
  // response byte is retried once on a fresh connection.
  for (int attempt = 0;; ++attempt) {
    auto stream = attempt == 0 ? take_idle() : nullptr;
    bool reused = stream != nullptr;
    if (!stream) {
      auto connected = co_await connect();
      if (!connected) co_return connected.error();
      stream = std::move(*connected);
    }
    stream->expires_never();
    Deadline limit(executor);
    if (timeout_ms_) limit.arm(deadline - std::chrono::steady_clock::now(), stream->socket());

    boost::system::error_code ec;
    co_await http::async_write(*stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec && reused) continue;
    beast::flat_buffer buffer;
    std::optional<http::response_parser<http::string_body>> parser;
    // Interim 1xx answers (100 Continue, 103 Early Hints) precede the real one: skip them.
    do {
      parser.emplace();
      parser->header_limit(64 * 1024);
      parser->body_limit(std::numeric_limits<std::uint64_t>::max());
      parser->skip(head);
      if (!ec)
        co_await http::async_read(*stream, buffer, *parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
    } while (!ec && parser->get().result_int() / 100 == 1 && parser->get().result_int() != 101);
    limit.disarm();
    if (ec) {
      if (limit.fired())
        co_return make_error(SKIFF_ERR_DEADLINE_EXCEEDED,
                             "error invoking app channel: the app did not answer within " +
                                 std::to_string(timeout_ms_) + "ms");
      if (reused && !parser->got_some() && buffer.size() == 0) continue;
      co_return make_error(SKIFF_ERR_INTERNAL, "error invoking app channel: " + ec.message());
    }
    auto res = parser->release();
    if (res.keep_alive() && buffer.size() == 0) give_back(std::move(stream));
    co_return res;
  }
}

}  // namespace skiff
