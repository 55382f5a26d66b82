// The [[middleware]] of this sidecar, in their order: the Caller runs their outbound and response
// hooks on every call an app makes, the Callee their inbound hooks before the app is called
// (sdk/include/skiff/middleware.h says where exactly). No middleware: one pointer test per call.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "call/call_head.hpp"
#include "call/rejection.hpp"
#include "plugin/middleware_instance.hpp"

namespace skiff {

class MiddlewareChain {
 public:
  explicit MiddlewareChain(std::vector<std::unique_ptr<MiddlewareInstance>> instances)
      : instances_(std::move(instances)) {}
  bool empty() const { return instances_.empty(); }

  // The middleware's per-call states of one side of one call; what is left is released when it
  // goes (after on_response, or when the call failed or was rejected).
  class CallState {
   public:
    explicit CallState(size_t n) : slots_(n) {}

   private:
    friend class MiddlewareChain;
    std::vector<MiddlewareSlot> slots_;
  };
  CallState start_call() const { return CallState(instances_.size()); }

  // In order; the first rejection ends the walk. Edits are applied to `head` as each hook
  // completes, so a later middleware sees an earlier one's.
  boost::asio::awaitable<std::optional<Rejection>> outbound(CallHead& head, CallState& state) const;
  boost::asio::awaitable<std::optional<Rejection>> inbound(CallHead& head, CallState& state) const;
  // In reverse order: the first middleware sees the answer last, as it saw the request first.
  boost::asio::awaitable<std::optional<Rejection>> response(const CallHead& head,
                                                            ResponseHead& response,
                                                            CallState& state) const;

 private:
  using RequestHook = boost::asio::awaitable<std::optional<Rejection>> (MiddlewareInstance::*)(
      CallHead&, MiddlewareSlot&);
  boost::asio::awaitable<std::optional<Rejection>> walk_request(CallHead& head, CallState& state,
                                                                bool (MiddlewareInstance::*has)()
                                                                    const,
                                                                RequestHook hook) const;
  std::vector<std::unique_ptr<MiddlewareInstance>> instances_;
};

}  // namespace skiff
