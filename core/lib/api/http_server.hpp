// The app-facing HTTP/1.1 server (Boost.Beast, keep-alive): reads requests with header and body
// limits, answers malformed ones with 400/413/431 instead of failing, and hands the rest to the
// router. One coroutine per connection, on its own strand.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <vector>

#include "api/router.hpp"
#include "common/result.hpp"
#include "config/settings.hpp"

namespace skiff {

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const Settings& settings, Router& router);
  // Binds every address of a comma-separated list ("[::1],127.0.0.1", as daprd's
  // --dapr-listen-addresses takes it) and starts accepting; returns the bound port. See
  // open_acceptors for `skip_missing_family`.
  Result<uint16_t> listen(const std::string& addresses, uint16_t port, bool skip_missing_family);
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor);
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  const Settings& settings_;
  Router& router_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::atomic<bool> stopping_{false};
};

}  // namespace skiff
