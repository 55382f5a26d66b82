// The callee sidecar's channel to its own app: HTTP/1.1 over a pool of keep-alive connections,
// with a connect timeout and a whole-response timeout so a dead or stuck app never hangs a call.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>
#include <mutex>
#include <vector>

#include "api/http_types.hpp"
#include "common/result.hpp"
#include "config/settings.hpp"

namespace skiff {

class HttpAppChannel {
 public:
  HttpAppChannel(boost::asio::io_context& io, const Settings& settings);

  // Sends `req` (target, verb, headers and body set by the caller; Host and framing are set here).
  boost::asio::awaitable<Result<Response>> send(Request req);
  std::string address() const { return host_ + ":" + std::to_string(port_); }

 private:
  using Stream = boost::beast::tcp_stream;
  boost::asio::awaitable<Result<std::unique_ptr<Stream>>> connect();
  std::unique_ptr<Stream> take_idle();
  void give_back(std::unique_ptr<Stream> stream);

  boost::asio::io_context& io_;
  std::string host_;
  uint16_t port_;
  uint64_t connect_timeout_ms_;
  uint64_t timeout_ms_;
  size_t max_idle_;
  std::mutex mu_;  // guards the idle list and the endpoints; held for a push or a pop only
  std::vector<std::unique_ptr<Stream>> idle_;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;
};

}  // namespace skiff
