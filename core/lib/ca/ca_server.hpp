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
#include "common/result.hpp"

namespace skiff {

struct CaServerOptions {
  std::filesystem::path dir;
  boost::asio::ip::tcp::endpoint listen;
  std::chrono::seconds max_cert_ttl{24 * 3600};  // a request for longer gets this
};

// What one sign request is answered: an HTTP status and a JSON body. The whole decision, apart from
// the network, so that tests can drive it directly.
struct SignAnswer {
  unsigned status = 200;
  std::string body;
  std::string log;  // a line for the CA's log: what was issued to whom, or why not
};
SignAnswer answer_sign_request(const std::filesystem::path& dir, JoinTokenStore& tokens,
                               std::string_view body, std::chrono::seconds max_cert_ttl);

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
