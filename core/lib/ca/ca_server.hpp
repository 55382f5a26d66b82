// `skiff ca serve`: signs sidecars' certificate requests over TLS (see security/ca_protocol.hpp).
// Accepting, TLS and HTTP run on the caller's io_context; the CA directory and token database are
// read, and certificates signed, on a small pool of its own so that a slow disk never stalls the
// connections. The directory is read at every request: a new issuer or bundle applies without a
// restart, and a revoked token is refused from the next request on.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "ca/join_tokens.hpp"
#include "ca/sign_request.hpp"
#include "common/result.hpp"

namespace skiff {

struct CaServerOptions {
  std::filesystem::path dir;
  boost::asio::ip::tcp::endpoint listen;
  std::chrono::seconds max_cert_ttl{24 * 3600};  // a request for longer gets this
};

class CaServer {
 public:
  static Result<std::unique_ptr<CaServer>> start(boost::asio::io_context& io,
                                                 CaServerOptions options);
  ~CaServer();
  uint16_t port() const;

 private:
  struct State;
  explicit CaServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace skiff
