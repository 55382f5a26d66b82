// The sidecar's side of the CA service: a fresh key and certificate request at every renewal,
// sent with the join token over TLS to a server that must prove it is the trust domain's CA.
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include "common/address_list.hpp"
#include "common/json_text.hpp"
#include "security/ca_protocol.hpp"
#include "security/certificates.hpp"
#include "security/identity_source.hpp"
#include "security/spiffe_id.hpp"

namespace skiff {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;

constexpr auto kTimeout = std::chrono::seconds(10);

class CaServiceSource : public IdentitySource {
 public:
  CaServiceSource(std::string address, fs::path bundle_file, std::string token,
                  std::string trust_domain)
      : address_(std::move(address)),
        bundle_file_(std::move(bundle_file)),
        token_(std::move(token)),
        trust_domain_(std::move(trust_domain)) {}

  Result<Credentials> fetch(const std::string& identity, std::chrono::seconds lifetime) override {
    auto request = make_workload_request(identity);
    if (!request) return request.error();
    nlohmann::json body = {
        {"token", token_}, {"csr", request->csr_pem}, {"ttl_seconds", lifetime.count()}};
    auto answer = post(json_text(body));
    if (!answer) return answer.error();
    auto json = nlohmann::json::parse(*answer, nullptr, false);
    if (json.is_discarded() || !json.is_object() || !json.contains("chain") ||
        !json["chain"].is_string() || !json.contains("bundle") || !json["bundle"].is_string())
      return make_error(SKIFF_ERR_INTERNAL, "the CA service answered something else than a chain");
    return Credentials{json["chain"].get<std::string>(), std::move(request->key_pem),
                       json["bundle"].get<std::string>()};
  }
  std::string describe() const override { return "the CA service at " + address_; }

 private:
  Result<std::string> post(const std::string& body) {
    // Read at every renewal, so that the operator can add a new root to it before a rotation.
    auto bundle = read_text_file(bundle_file_);
    if (!bundle) return bundle.error();
    auto parsed = parse_host_port(address_);
    if (!parsed) return parsed.error();

    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
    boost::system::error_code ec;
    ctx.add_certificate_authority(asio::buffer(*bundle), ec);
    if (ec)
      return make_error(SKIFF_ERR_INVALID_ARGUMENT, bundle_file_.string() + ": " + ec.message());
    ctx.set_verify_mode(asio::ssl::verify_peer, ec);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(parsed->host, std::to_string(parsed->port), ec);
    if (ec) return unreachable(ec);

    http::request<http::string_body> req{http::verb::post, std::string(ca_protocol::kSignPath), 11};
    req.set(http::field::host, address_);
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.body_limit(ca_protocol::kMaxResponseBody);
    beast::flat_buffer buffer;
    std::string failure;

    auto& tcp = beast::get_lowest_layer(stream);
    tcp.expires_after(kTimeout);
    tcp.async_connect(endpoints, [&](boost::system::error_code e, const auto&) {
      if (e) return void(failure = "cannot connect: " + e.message());
      stream.async_handshake(asio::ssl::stream_base::client, [&](boost::system::error_code e) {
        if (e) return void(failure = "TLS handshake failed: " + e.message());
        if (auto who = peer_uri(stream.native_handle()); !who)
          return void(failure = who.error().message);
        http::async_write(stream, req, [&](boost::system::error_code e, size_t) {
          if (e) return void(failure = e.message());
          http::async_read(stream, buffer, parser, [&](boost::system::error_code e, size_t) {
            if (e) failure = e.message();
          });
        });
      });
    });
    io.run();
    if (!failure.empty())
      return make_error(SKIFF_ERR_UNAVAILABLE, "CA service at " + address_ + ": " + failure);
    auto res = parser.release();
    if (res.result() != http::status::ok) {
      auto err = nlohmann::json::parse(res.body(), nullptr, false);
      std::string message = err.is_object() && err.contains("message") && err["message"].is_string()
                                ? err["message"].get<std::string>()
                                : res.body().substr(0, 200);
      return make_error(
          res.result_int() >= 500 ? SKIFF_ERR_UNAVAILABLE : SKIFF_ERR_PERMISSION_DENIED,
          "the CA service refused: HTTP " + std::to_string(res.result_int()) + ": " + message);
    }
    return std::move(res.body());
  }

  // The chain verified against the bundle during the handshake; what is left is the name: a
  // server of another trust domain, or a workload certificate, is not our CA.
  Result<std::string> peer_uri(SSL* ssl) const {
    if (SSL_get_verify_result(ssl) != X509_V_OK)
      return make_error(SKIFF_ERR_UNAUTHENTICATED, "the CA service's certificate did not verify");
    auto uri = single_uri_san(SSL_get0_peer_certificate(ssl));
    if (!uri) return uri.error();
    if (*uri != ca_service_uri(trust_domain_))
      return make_error(SKIFF_ERR_UNAUTHENTICATED, "the server at " + address_ + " is " + *uri +
                                                       ", not " + ca_service_uri(trust_domain_));
    return uri;
  }

  Error unreachable(const boost::system::error_code& ec) const {
    return make_error(SKIFF_ERR_UNAVAILABLE, "CA service at " + address_ + ": " + ec.message());
  }

  const std::string address_;
  const fs::path bundle_file_;
  const std::string token_;
  const std::string trust_domain_;
};

}  // namespace

std::unique_ptr<IdentitySource> ca_service_source(std::string address, fs::path bundle_file,
                                                  std::string join_token,
                                                  std::string trust_domain) {
  return std::make_unique<CaServiceSource>(std::move(address), std::move(bundle_file),
                                           std::move(join_token), std::move(trust_domain));
}

}  // namespace skiff
