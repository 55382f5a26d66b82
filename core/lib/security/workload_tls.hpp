// This sidecar's mutual-TLS credentials: the TLS 1.3 context new connections use, replaced as a
// whole when the certificate rotates (connections already open keep the one they started with),
// and the check of a peer's X.509-SVID after the handshake.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace skiff {

class WorkloadTls {
 public:
  using Clock = std::chrono::system_clock;
  explicit WorkloadTls(std::string trust_domain) : trust_domain_(std::move(trust_domain)) {}

  // Builds a context from a certificate chain (leaf first), its key and the trust bundle, and
  // makes it the one new handshakes use. Nothing changes when the set is invalid.
  Status install(const std::string& chain_pem, const std::string& key_pem,
                 const std::string& bundle_pem, std::string identity, Clock::time_point not_after,
                 Clock::time_point renew_at);
  std::shared_ptr<boost::asio::ssl::context> context() const;

  const std::string& trust_domain() const { return trust_domain_; }
  // The peer's SPIFFE ID once a handshake verified its chain: an X.509-SVID of this trust domain,
  // and equal to `expected` when that is not empty.
  Result<std::string> verify_peer(SSL* ssl, std::string_view expected) const;
  // The same checks for a leaf whose chain another TLS stack verified against the bundle.
  Result<std::string> check_leaf(X509* leaf, std::string_view expected) const;

  struct Presented {
    std::string identity;
    Clock::time_point not_after{}, renew_at{};
  };
  Presented presented() const;

  // Handshakes completed and verified, both roles: pooled connections make this grow with
  // connections, never with calls (metadata shows it; the benchmark counts it per call).
  void count_handshake() { handshakes_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t handshakes() const { return handshakes_.load(std::memory_order_relaxed); }

 private:
  const std::string trust_domain_;
  mutable std::mutex mu_;  // guards the two below; taken per handshake and per rotation only
  std::shared_ptr<boost::asio::ssl::context> context_;
  Presented presented_;
  std::atomic<uint64_t> handshakes_{0};
};

}  // namespace skiff
