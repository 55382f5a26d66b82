// The callee sidecar's channel to a gRPC app (app.protocol = "grpc"): ordinary invocations go to
// dapr.proto.runtime.v1.AppCallback/OnInvoke, as with Dapr; proxied gRPC calls go to the app's own
// method as raw bytes, streaming both ways. Part of the skiff-grpc module.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "config/settings.hpp"
#include "invoke/app_client.hpp"
#include "plugin/components.hpp"

namespace skiff {

class GrpcAppChannel final : public AppClient {
 public:
  explicit GrpcAppChannel(const Settings& settings);
  // Serves one call from the transport to the app; proxied calls are marked by kGrpcProxyHeader.
  boost::asio::awaitable<void> serve(ServerCall& call, CallHead& head) override;
  bool speaks_grpc() const override { return true; }

 private:
  boost::asio::awaitable<void> on_invoke(ServerCall& call, const CallHead& head);
  boost::asio::awaitable<void> proxy(ServerCall& call, const CallHead& head);

  const Settings& settings_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

}  // namespace skiff
