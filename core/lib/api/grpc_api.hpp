// The app-facing gRPC API (h2c, Dapr-compatible): dapr.proto.runtime.v1.Dapr/InvokeService and
// GetMetadata, UNIMPLEMENTED for the rest of Dapr's API, and proxy mode: any other method with
// `dapr-app-id` metadata is forwarded as raw bytes to the target app's sidecar. Served through
// gRPC's generic callback API, so no schema of the app's own services is needed. Part of the
// skiff-grpc module: skiffd's GrpcListener accepts the connections and hands them over.
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>

#include "api/grpc_module.hpp"
#include "api/sidecar_info.hpp"
#include "common/result.hpp"
#include "config/settings.hpp"
#include "grpc/streams.hpp"
#include "invoke/caller.hpp"

namespace skiff {

class GrpcApi final : public grpc::CallbackGenericService, public GrpcApiServer {
 public:
  GrpcApi(boost::asio::io_context& io, const Settings& settings, Caller& caller,
          const SidecarInfo& info);
  ~GrpcApi() override;

  void serve_socket(int fd) override;
  // gRPC's Shutdown blocks, so it runs on its own thread (joined by the destructor), never on an
  // event-loop thread that running calls need.
  void shutdown() override;

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

 private:
  boost::asio::awaitable<void> invoke_service(std::shared_ptr<ServerStream> stream);
  boost::asio::awaitable<void> get_metadata(std::shared_ptr<ServerStream> stream);
  boost::asio::awaitable<void> proxy(std::shared_ptr<ServerStream> stream, InvokeTarget target);
  // This sidecar's server span of a sampled call, recorded when the stream finishes; `rpc` is
  // "service/method" as OpenTelemetry's RPC conventions name the span.
  void record_server_span(ServerStream& s, std::string_view rpc) const;

  boost::asio::io_context& io_;
  const Settings& settings_;
  Caller& caller_;
  const SidecarInfo& info_;
  std::unique_ptr<grpc::Server> server_;
  std::thread shutdown_thread_;
};

}  // namespace skiff
