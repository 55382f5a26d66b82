#include "security/workload_tls.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include "security/spiffe_id.hpp"

namespace skiff {

namespace ssl = boost::asio::ssl;

Status WorkloadTls::install(const std::string& chain_pem, const std::string& key_pem,
                            const std::string& bundle_pem, std::string identity,
                            Clock::time_point not_after, Clock::time_point renew_at) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls);
  boost::system::error_code ec;
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
  // No session tickets: a pooled client connection must hold no unread bytes (the transport
  // reuses only connections with nothing pending), and connections are long-lived anyway.
  SSL_CTX_set_num_tickets(ctx->native_handle(), 0);
  SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_OFF);
  // AES-128-GCM first: as strong as a 24 h workload key needs, and the cheapest with AES-NI.
  SSL_CTX_set_ciphersuites(ctx->native_handle(),
                           "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"
                           "TLS_AES_256_GCM_SHA384");
  ctx->set_options(ssl::context::no_compression, ec);
  if (!ec) ctx->use_certificate_chain(boost::asio::buffer(chain_pem), ec);
  if (!ec) ctx->use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
  if (!ec && SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    ec = boost::system::error_code(static_cast<int>(ERR_get_error()),
                                   boost::asio::error::get_ssl_category());
  if (!ec) ctx->add_certificate_authority(boost::asio::buffer(bundle_pem), ec);
  if (!ec) ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  ERR_clear_error();
  if (ec)
    return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                      "cannot use the workload certificate: " + ec.message());
  std::lock_guard lock(mu_);
  context_ = std::move(ctx);
  presented_ = Presented{std::move(identity), not_after, renew_at};
  return Ok{};
}

std::shared_ptr<ssl::context> WorkloadTls::context() const {
  std::lock_guard lock(mu_);
  return context_;
}

WorkloadTls::Presented WorkloadTls::presented() const {
  std::lock_guard lock(mu_);
  return presented_;
}

Result<std::string> WorkloadTls::verify_peer(SSL* ssl, std::string_view expected) const {
  // The chain was verified against the bundle during the handshake (verify_peer); what is left
  // is what SPIFFE adds.
  if (SSL_get_verify_result(ssl) != X509_V_OK)
    return make_error(SKIFF_ERR_UNAUTHENTICATED, "the peer's certificate did not verify");
  return check_leaf(SSL_get0_peer_certificate(ssl), expected);
}

Result<std::string> WorkloadTls::check_leaf(X509* leaf, std::string_view expected) const {
  // The leaf's one URI SAN, in our trust domain, and the peer we meant.
  auto uri = svid_uri(leaf);
  if (!uri) return uri.error();
  auto id = parse_spiffe_id(*uri);
  if (id->trust_domain != trust_domain_)
    return make_error(SKIFF_ERR_UNAUTHENTICATED,
                      "the peer " + *uri + " is not of the trust domain " + trust_domain_);
  if (!expected.empty() && *uri != expected)
    return make_error(SKIFF_ERR_UNAVAILABLE,
                      "the sidecar at this address is " + *uri + ", not " + std::string(expected));
  return *uri;
}

}  // namespace skiff
