#include "invoke/middleware_chain.hpp"

namespace skiff {

boost::asio::awaitable<std::optional<Rejection>> MiddlewareChain::outbound(CallHead& head,
                                                                           CallState& state) const {
  return walk_request(head, state, &MiddlewareInstance::has_outbound,
                      &MiddlewareInstance::outbound);
}

boost::asio::awaitable<std::optional<Rejection>> MiddlewareChain::inbound(CallHead& head,
                                                                          CallState& state) const {
  return walk_request(head, state, &MiddlewareInstance::has_inbound, &MiddlewareInstance::inbound);
}

boost::asio::awaitable<std::optional<Rejection>> MiddlewareChain::walk_request(
    CallHead& head, CallState& state, bool (MiddlewareInstance::*has)() const,
    RequestHook hook) const {
  for (size_t i = 0; i < instances_.size(); ++i) {
    auto& m = *instances_[i];
    if (!(m.*has)()) continue;
    if (auto rejected = co_await (m.*hook)(head, state.slots_[i])) co_return rejected;
  }
  co_return std::nullopt;
}

boost::asio::awaitable<std::optional<Rejection>> MiddlewareChain::response(const CallHead& head,
                                                                           ResponseHead& response,
                                                                           CallState& state) const {
  for (size_t i = instances_.size(); i-- > 0;) {
    if (!instances_[i]->has_response()) continue;
    if (auto rejected = co_await instances_[i]->response(head, response, state.slots_[i]))
      co_return rejected;
  }
  co_return std::nullopt;
}

}  // namespace skiff
