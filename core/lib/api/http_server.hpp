// The app-facing HTTP/1.1 server (Boost.Beast, keep-alive): reads requests with header and body
// limits, answers malformed ones with 400/413/431 instead of failing, and hands the rest to the
// router. One coroutine per connection, on its own strand.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <atomic>

#include "api/router.hpp"
#include "common/result.hpp"
#include "config/settings.hpp"

namespace skiff {

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const Settings& settings, Router& router);
  // Binds and starts accepting; returns the bound port.
  Result<uint16_t> listen(const std::string& address, uint16_t port);
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  const Settings& settings_;
  Router& router_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
};

}  // namespace skiff
