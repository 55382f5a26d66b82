// The app-facing gRPC port. skiffd accepts on it itself and hands each connection to the gRPC
// API server, which is loaded (grpc_module.hpp) and started when the first connection arrives.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <mutex>
#include <vector>

#include "api/grpc_module.hpp"

namespace skiff {

class GrpcListener {
 public:
  GrpcListener(boost::asio::io_context& io, const Settings& settings, Caller& caller,
               const SidecarInfo& info);
  ~GrpcListener();
  GrpcListener(const GrpcListener&) = delete;
  GrpcListener& operator=(const GrpcListener&) = delete;

  // Starts accepting on every address of the list (as HttpServer::listen); returns the port.
  Result<uint16_t> listen(const std::string& addresses, uint16_t port, bool skip_missing_family);
  // Stops accepting and shuts the server down (running calls get a grace period). Returns at
  // once; call it on an event-loop thread.
  void shutdown();

 private:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  struct Listener {
    Listener(std::unique_ptr<boost::asio::ip::tcp::acceptor> a, const Strand& strand)
        : acceptor(std::move(a)), retry(strand) {}
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor;
    boost::asio::steady_timer retry;
  };
  void accept_next(Listener& listener);
  void hand_over(boost::asio::ip::tcp::socket socket);
  void close_all();

  boost::asio::io_context& io_;
  const Settings& settings_;
  Caller& caller_;
  const SidecarInfo& info_;
  // Every acceptor and retry timer runs on this strand.
  Strand strand_{boost::asio::make_strand(io_)};
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::mutex server_mu_;  // taken per accepted connection and at shutdown, never per call
  bool stopping_ = false;
  std::unique_ptr<GrpcApiServer> server_;  // made by the first connection
};

}  // namespace skiff
