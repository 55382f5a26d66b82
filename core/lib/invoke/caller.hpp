// The caller's side of an invocation: resolve the target app, carry the request to one of its
// sidecars over the transport, retry on another instance when a sidecar cannot be reached, and
// turn the answer (or the failure) into the app's HTTP response.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "api/http_types.hpp"
#include "config/settings.hpp"
#include "invoke/target.hpp"
#include "plugin/components.hpp"

namespace skiff {

class Caller {
 public:
  Caller(const Settings& settings, std::shared_ptr<ResolverInstance> resolver,
         std::shared_ptr<TransportInstance> transport);

  // `client_address` is the IP of the app connection, for X-Forwarded-For.
  boost::asio::awaitable<Response> invoke(const InvokeTarget& target, Request& req,
                                          const std::string& client_address);
  // Invocations started and not finished, for a graceful shutdown.
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

 private:
  struct Attempt {
    bool delivered = false;  // false: the peer could not be reached, retrying is safe
    Response response;
  };
  boost::asio::awaitable<Attempt> call_once(const std::string& address, const CallHead& head,
                                            const std::string& body, const InvokeTarget& target);
  CallHead make_head(const InvokeTarget& target, const Request& req,
                     const std::string& client_address) const;
  Response failure(unsigned status, const InvokeTarget& target, std::string_view why) const;

  const Settings& settings_;
  std::shared_ptr<ResolverInstance> resolver_;
  std::shared_ptr<TransportInstance> transport_;
  std::atomic<int> in_flight_{0};
};

}  // namespace skiff
