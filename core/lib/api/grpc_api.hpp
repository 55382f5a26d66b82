// The app-facing gRPC API (h2c, Dapr-compatible): dapr.proto.runtime.v1.Dapr/InvokeService and
// GetMetadata, UNIMPLEMENTED for the rest of Dapr's API, and proxy mode: any other method with
// `dapr-app-id` metadata is forwarded as raw bytes to the target app's sidecar. Served through
// gRPC's generic callback API, so no schema of the app's own services is needed.
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <mutex>
#include <thread>

#include "api/sidecar_info.hpp"
#include "common/result.hpp"
#include "config/settings.hpp"
#include "grpc/streams.hpp"
#include "invoke/caller.hpp"

namespace skiff {

class GrpcApi final : public grpc::CallbackGenericService {
 public:
  GrpcApi(boost::asio::io_context& io, const Settings& settings, Caller& caller,
          const SidecarInfo& info);
  ~GrpcApi();
  // Starts serving; returns the bound port.
  Result<uint16_t> listen(const std::string& address, uint16_t port);
  // Stops accepting calls; running ones get a grace period, then are cancelled. Returns at once:
  // gRPC's Shutdown blocks, so it runs on its own thread (joined by the destructor), never on an
  // event-loop thread that running calls need.
  void shutdown();

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

 private:
  boost::asio::awaitable<void> invoke_service(std::shared_ptr<ServerStream> stream);
  boost::asio::awaitable<void> get_metadata(std::shared_ptr<ServerStream> stream);
  boost::asio::awaitable<void> proxy(std::shared_ptr<ServerStream> stream, InvokeTarget target);

  boost::asio::io_context& io_;
  const Settings& settings_;
  Caller& caller_;
  const SidecarInfo& info_;
  void accept_next();
  void stop_server();
  void hand_over(boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor acceptor_{boost::asio::make_strand(io_)};
  boost::asio::steady_timer retry_{acceptor_.get_executor()};
  std::mutex server_mu_;  // taken per accepted connection and at shutdown, never per call
  bool stopping_ = false;
  std::unique_ptr<grpc::Server> server_;  // started by the first connection
  std::thread shutdown_thread_;
};

}  // namespace skiff
