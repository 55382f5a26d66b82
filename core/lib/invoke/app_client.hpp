// The callee sidecar's way to its app, whatever the app speaks: the Callee decides whether a
// call may reach the app at all (the target, the caller's identity, access control), then hands
// it to the app client, which translates the call model into the app's protocol (HTTP/1.1 in
// appchannel/http_app_channel, gRPC in appchannel/grpc_app_channel) and the answer back.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "call/call_head.hpp"
#include "plugin/components.hpp"

namespace skiff {

class AppClient {
 public:
  virtual ~AppClient() = default;
  // Serves one call from the transport: reads its body from `call`, answers on it (or fails it
  // with a status). `head` has been checked and carries the caller from its certificate.
  virtual boost::asio::awaitable<void> serve(ServerCall& call, CallHead& head) = 0;
  // The app speaks gRPC (app.protocol = "grpc"); calls then reach it as AppCallback/OnInvoke or,
  // proxied, as its own methods.
  virtual bool speaks_grpc() const = 0;
};

}  // namespace skiff
