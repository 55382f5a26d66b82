// The gRPC parts of skiffd (the app-facing gRPC API and the channel to gRPC apps) live in a module,
// skiff-grpc.so, loaded on first need: gRPC's and protobuf's libraries cost a sidecar about
// 5 MiB of resident pages, which a sidecar whose app never speaks gRPC should not pay.
// The module is internal (built with skiffd, same compiler and headers); it resolves the core's
// symbols against the skiffd executable, which exports them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>

#include "api/sidecar_info.hpp"
#include "common/result.hpp"
#include "config/settings.hpp"
#include "invoke/app_client.hpp"

namespace skiff {

class Caller;

// Serves Dapr's gRPC API on connections skiffd accepted.
class GrpcApiServer {
 public:
  virtual ~GrpcApiServer() = default;
  // Takes an accepted, connected socket; the server owns it from then on.
  virtual void serve_socket(int fd) = 0;
  // Stops serving; running calls get a grace period. Returns at once.
  virtual void shutdown() = 0;
};

struct GrpcModule {
  std::unique_ptr<GrpcApiServer> (*create_api)(boost::asio::io_context& io,
                                               const Settings& settings, Caller& caller,
                                               const SidecarInfo& info);
  // The callee sidecar's channel to a gRPC app (app.protocol = "grpc").
  std::unique_ptr<AppClient> (*create_app_client)(const Settings& settings);
};

// Loads the module once (thread-safe). It is looked for next to the skiffd executable (a build
// tree), then in the install directory. The error names the file and the loader's reason.
Result<const GrpcModule*> load_grpc_module();

}  // namespace skiff

// The module's one exported function.
extern "C" const skiff::GrpcModule* skiff_grpc_module();
