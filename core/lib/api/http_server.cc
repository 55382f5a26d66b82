#include "api/http_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>

#include "api/acceptors.hpp"
#include "api/http_exchange.hpp"
#include "common/call_executor.hpp"
#include "common/deadline.hpp"

namespace skiff {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;

HttpServer::HttpServer(asio::io_context& io, const Settings& settings, Router& router)
    : io_(io), settings_(settings), router_(router) {}

Result<uint16_t> HttpServer::listen(const std::string& addresses, uint16_t port,
                                    bool skip_missing_family) {
  auto opened =
      open_acceptors(io_.get_executor(), addresses, port, "HTTP API", skip_missing_family);
  if (!opened) return opened.error();
  acceptors_ = std::move(*opened);
  for (auto& a : acceptors_) asio::co_spawn(io_, accept_loop(*a), asio::detached);
  return acceptors_.front()->local_endpoint().port();
}

void HttpServer::stop() {
  stopping_ = true;
  asio::post(io_, [this] {
    boost::system::error_code ec;
    for (auto& a : acceptors_) a->close(ec);
  });
}

asio::awaitable<void> HttpServer::accept_loop(tcp::acceptor& acceptor) {
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::socket socket(call_executor(io_));
    co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) co_return;
      spdlog::warn("accept failed: {}", ec.message());
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory) {
        // Out of file descriptors: accepting again at once would spin. Let connections close.
        asio::steady_timer pause(io_, std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto ex = socket.get_executor();
    asio::co_spawn(ex, session(std::move(socket)), asio::detached);
  }
}

namespace {

// Maps a request-reading error to the status the client deserves, or 0 to just close.
unsigned status_for_read_error(const boost::system::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
      ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
      ec == http::error::partial_message)
    return 0;
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::header_limit) return 431;
  return 400;
}

std::string read_error_message(unsigned status, const boost::system::error_code& ec,
                               uint64_t max_body) {
  if (status == 413)
    return "request body exceeds the maximum of " + std::to_string(max_body) + " bytes";
  if (status == 431) return "request headers are too large";
  return "malformed HTTP request: " + ec.message();
}

}  // namespace

asio::awaitable<void> HttpServer::session(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  std::string client = stream.socket().remote_endpoint(ec).address().to_string();

  // Answers and ends the connection: what follows the refused request cannot be trusted.
  auto answer_and_close = [&](Response res) -> asio::awaitable<bool> {
    res.keep_alive(false);
    boost::system::error_code wec;
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, wec));
    co_return true;
  };
  auto refuse = [&](const boost::system::error_code& why) -> asio::awaitable<bool> {
    unsigned status = status_for_read_error(why);
    if (status == 0) co_return false;
    // Named, not a temporary: GCC 12 mis-destroys temporaries of a ?: inside a co_await.
    auto res = dapr_error(status, status == 413 ? "ERR_BODY_TOO_LARGE" : "ERR_MALFORMED_REQUEST",
                          read_error_message(status, why, settings_.max_body_size));
    co_return co_await answer_and_close(std::move(res));
  };

  bool linger = false;
  Deadline deadline(stream.get_executor());
  const auto idle = std::chrono::milliseconds(settings_.http_idle_timeout_ms);
  try {
    while (!stopping_) {
      HttpExchange::HeaderParser parser;
      parser.header_limit(static_cast<uint32_t>(settings_.max_header_size));
      parser.body_limit(std::numeric_limits<uint64_t>::max());
      // One limit for waiting on the next request and reading its head.
      deadline.arm(idle, stream.socket());
      co_await http::async_read_header(stream, buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
      deadline.disarm();
      if (!ec) {
        const auto& req = parser.get();
        if (auto bad = framing_problem(req, parser.chunked(), req.version())) {
          linger = co_await answer_and_close(dapr_error(bad->status, "ERR_MALFORMED_REQUEST",
                                                        "malformed HTTP request: " + bad->message));
          break;
        }
      }
      // A body of known length up to max_body_size is read whole; larger and chunked bodies
      // stream, unless streaming is off, in which case max_body_size is a hard limit.
      bool read_whole = true;
      if (!ec) {
        auto length = parser.content_length();
        bool large = parser.chunked() || (length && *length > settings_.max_body_size);
        if (large && settings_.streaming)
          read_whole = false;
        else if (length && *length > settings_.max_body_size)
          ec = http::error::body_limit;
      }
      if (!ec && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
        co_await http::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec) {
        linger = co_await refuse(ec);
        break;
      }
      HttpExchange exchange(stream, buffer, std::move(parser), read_whole, settings_.max_body_size,
                            idle, client);
      if (auto rec = co_await exchange.read_body()) {
        linger = co_await refuse(rec);
        break;
      }
      co_await router_.handle(exchange);
      if (!exchange.reusable()) {
        linger = !exchange.request_done();
        break;
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("HTTP session from {} ended by an unexpected error: {}", client, e.what());
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (linger) {
    // The client may still be sending the body we refused; closing now would reset the
    // connection before it reads our answer. Drain for a bounded time instead.
    stream.expires_after(std::chrono::seconds(2));
    std::vector<char> scratch(64 * 1024);
    for (size_t drained = 0; drained < (64u << 20);) {
      size_t n = co_await stream.async_read_some(asio::buffer(scratch),
                                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      drained += n;
    }
  }
}

}  // namespace skiff
