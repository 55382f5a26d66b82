#include "appchannel/http_app_channel.hpp"

#include <sys/socket.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <limits>
#include <optional>

#include "common/body_piece.hpp"
#include "common/http_syntax.hpp"
#include "common/socket_check.hpp"

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
  for (;;) {
    std::unique_ptr<Stream> s;
    {
      std::lock_guard lock(mu_);
      if (idle_.empty()) return nullptr;
      s = std::move(idle_.back());
      idle_.pop_back();
    }
    if (still_open(s->socket())) return s;
  }
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
    // Nothing reached the app on these failures: UNAVAILABLE lets the caller's sidecar try
    // another instance, as it does when a sidecar cannot be reached.
    if (ec)
      co_return make_error(SKIFF_ERR_UNAVAILABLE, "error invoking app channel: cannot resolve " +
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
        SKIFF_ERR_UNAVAILABLE,
        "error invoking app channel: cannot connect to app at " + address() + ": " + why);
  }
  stream->socket().set_option(tcp::no_delay(true), ec);
  co_return std::move(stream);
}

namespace {
// Verbs whose empty body goes without a Content-Length, as clients send them.
bool bodiless_verb(http::verb v) {
  return v == http::verb::get || v == http::verb::head || v == http::verb::delete_ ||
         v == http::verb::options || v == http::verb::trace;
}
}  // namespace

AppExchange::AppExchange(HttpAppChannel& channel) : channel_(channel) {
  buffer_.reserve(8 * 1024);  // room for a typical answer's head and a small body in one read
}

AppExchange::~AppExchange() {
  if (deadline_) deadline_->disarm();
  bool clean = stream_ && !failed_ && request_done_ && parser_ && parser_->is_done() &&
               parser_->get().keep_alive() && buffer_.size() == 0;
  if (clean) channel_.give_back(std::move(stream_));
}

Error AppExchange::app_error(const boost::system::error_code& ec, const char* doing) const {
  if (deadline_ && deadline_->fired())
    return make_error(SKIFF_ERR_DEADLINE_EXCEEDED,
                      std::string("error invoking app channel: the app did not ") + doing +
                          " within " + std::to_string(channel_.timeout_ms_) + "ms");
  return make_error(SKIFF_ERR_INTERNAL, "error invoking app channel: " + ec.message());
}

asio::awaitable<Status> AppExchange::start(AppRequest& req, std::string_view first, bool last) {
  if (!channel_.configured())
    co_return make_error(SKIFF_ERR_INTERNAL,
                         "error invoking app channel: this sidecar has no app (app.port is 0)");
  req_ = &req;
  first_ = first;
  whole_ = last;
  req.set(http::field::host, channel_.address());
  req.keep_alive(true);
  declared_length_ = std::nullopt;
  if (auto len = req.find(http::field::content_length); len != req.end()) {
    declared_length_ = parse_content_length(len->value());
    if (!declared_length_)
      co_return make_error(SKIFF_ERR_INVALID_ARGUMENT, "invalid request: malformed Content-Length");
    if (last && first.size() != *declared_length_) co_return length_mismatch(first.size());
  } else {
    if (!last)
      req.chunked(true);
    else if (!first.empty() || !bodiless_verb(req.method()))
      req.content_length(first.size());
  }
  deadline_.emplace(co_await asio::this_coro::executor);
  co_return co_await connect_and_send();
}

asio::awaitable<Status> AppExchange::connect_and_send() {
  // A pooled connection may have been closed by the app while idle; a complete request that
  // fails on one is sent again on a fresh connection.
  for (int attempt = 0;; ++attempt) {
    stream_ = attempt == 0 ? channel_.take_idle() : nullptr;
    reused_ = stream_ != nullptr;
    if (!stream_) {
      auto connected = co_await channel_.connect();
      if (!connected) {
        failed_ = true;
        // Once the request went out on an earlier connection the app may have acted on it:
        // no longer "not delivered", so the caller must not send it elsewhere.
        if (wrote_) co_return make_error(SKIFF_ERR_INTERNAL, connected.error().message);
        co_return connected.error();
      }
      stream_ = std::move(*connected);
    }
    stream_->expires_never();
    serializer_.emplace(*req_);
    request_done_ = false;
    body_sent_ = 0;
    auto sent = co_await send_piece(first_, whole_);
    if (sent || !reused_ || !whole_) co_return sent;
  }
}

Error AppExchange::length_mismatch(uint64_t actual) const {
  return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                    "invalid request: the body " +
                        std::string(actual > *declared_length_ ? "exceeds" : "falls short of") +
                        " its Content-Length of " + std::to_string(*declared_length_) + " bytes");
}

asio::awaitable<Status> AppExchange::send_piece(std::string_view chunk, bool last) {
  // The request is framed by the body it actually carries: a declared length that the body
  // contradicts would leave the app waiting, or take the excess for the next request on a pooled
  // connection. Nothing beyond the declared length is written, and a short body is not ended.
  body_sent_ += chunk.size();
  if (declared_length_ &&
      (body_sent_ > *declared_length_ || (last && body_sent_ != *declared_length_))) {
    failed_ = true;
    co_return length_mismatch(body_sent_);
  }
  auto& body = req_->body();
  boost::system::error_code ec;
  auto limit = std::chrono::milliseconds(channel_.timeout_ms_);
  if (channel_.timeout_ms_) deadline_->arm(limit, stream_->socket());
  wrote_ = true;
  if (!chunk.empty() || !serializer_->is_header_done()) {
    // Never an empty non-null buffer: the chunked writer takes it for the end of the body.
    body.data = chunk.empty() ? nullptr : const_cast<char*>(chunk.data());
    body.size = chunk.size();
    body.more = true;
    co_await http::async_write(*stream_, *serializer_,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
  }
  if (!ec && last) {
    body.data = nullptr;
    body.size = 0;
    body.more = false;
    co_await http::async_write(*stream_, *serializer_,
                               asio::redirect_error(asio::use_awaitable, ec));
    request_done_ = !ec;
  }
  deadline_->disarm();
  if (ec) {
    failed_ = true;
    co_return app_error(ec, "take the request");
  }
  co_return Ok{};
}

asio::awaitable<Status> AppExchange::write(std::string_view chunk, bool last) {
  co_return co_await send_piece(chunk, last);
}

asio::awaitable<Result<const http::response_header<>*>> AppExchange::read_head() {
  const bool head = req_->method() == http::verb::head;
  for (;;) {
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_->skip(head);
    boost::system::error_code ec;
    if (channel_.timeout_ms_)
      deadline_->arm(std::chrono::milliseconds(channel_.timeout_ms_), stream_->socket());
    co_await http::async_read_header(*stream_, buffer_, *parser_,
                                     asio::redirect_error(asio::use_awaitable, ec));
    deadline_->disarm();
    if (ec) {
      if (reused_ && whole_ && !parser_->got_some() && buffer_.size() == 0 && !deadline_->fired()) {
        // The pooled connection was dead: send the whole request again on a fresh one.
        stream_.reset();
        auto sent = co_await connect_and_send();
        if (!sent) co_return sent.error();
        continue;
      }
      failed_ = true;
      co_return app_error(ec, "answer");
    }
    // Interim 1xx answers (100 Continue, 103 Early Hints) precede the real one: skip them.
    unsigned code = parser_->get().result_int();
    if (code / 100 == 1 && code != 101) continue;
    const auto& res = parser_->get();
    if (auto bad = framing_problem(res, parser_->chunked(), res.version())) {
      failed_ = true;
      co_return make_error(SKIFF_ERR_INTERNAL,
                           "error invoking app channel: the app's answer "
                           "cannot be relayed: " +
                               bad->message);
    }
    reused_ = false;
    co_return &parser_->get().base();
  }
}

asio::awaitable<Result<BodyPiece>> AppExchange::read_some() {
  auto& parser = *parser_;
  if (parser.is_done()) co_return BodyPiece{true, {}, true, {}};
  if (channel_.timeout_ms_)
    deadline_->arm(std::chrono::milliseconds(channel_.timeout_ms_), stream_->socket());
  auto [ec, n] = co_await read_body_piece(*stream_, buffer_, parser, chunk_);
  deadline_->disarm();
  if (ec) {
    failed_ = true;
    co_return app_error(ec, "send its answer");
  }
  co_return BodyPiece{true, std::string_view(chunk_.data(), n), parser.is_done(), {}};
}

}  // namespace skiff
