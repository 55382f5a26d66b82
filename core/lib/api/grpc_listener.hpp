// The app-facing gRPC port. skiffd accepts on it itself and hands each connection to the gRPC
// API server, which is loaded (grpc_module.hpp) and started when the first connection arrives.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <mutex>

#include "api/grpc_module.hpp"

namespace skiff {

class GrpcListener {
 public:
  GrpcListener(boost::asio::io_context& io, const Settings& settings, Caller& caller,
               const SidecarInfo& info);
  ~GrpcListener();
  GrpcListener(const GrpcListener&) = delete;
  GrpcListener& operator=(const GrpcListener&) = delete;

  // Starts accepting; returns the bound port.
  Result<uint16_t> listen(const std::string& address, uint16_t port);
  // Stops accepting and shuts the server down (running calls get a grace period). Returns at
  // once; call it on an event-loop thread.
  void shutdown();

 private:
  void accept_next();
  void hand_over(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  const Settings& settings_;
  Caller& caller_;
  const SidecarInfo& info_;
  boost::asio::ip::tcp::acceptor acceptor_{boost::asio::make_strand(io_)};
  boost::asio::steady_timer retry_{acceptor_.get_executor()};
  std::mutex server_mu_;  // taken per accepted connection and at shutdown, never per call
  bool stopping_ = false;
  std::unique_ptr<GrpcApiServer> server_;  // made by the first connection
};

}  // namespace skiff
