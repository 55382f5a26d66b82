#include "ca/sign_request.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "ca/ca_directory.hpp"
#include "common/json_text.hpp"
#include "security/certificates.hpp"
#include "security/spiffe_id.hpp"

namespace skiff {
namespace {

SignAnswer refuse(unsigned status, std::string_view code, const std::string& message) {
  nlohmann::json body = {{"errorCode", code}, {"message", message}};
  return {status, json_text(body), "refused a certificate request: " + message};
}

}  // namespace

SignAnswer answer_sign_request(const std::filesystem::path& dir, JoinTokenStore& tokens,
                               std::string_view body, std::chrono::seconds max_cert_ttl) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("token") ||
      !json["token"].is_string() || !json.contains("csr") || !json["csr"].is_string())
    return refuse(400, "ERR_MALFORMED_REQUEST", "expected {\"token\": ..., \"csr\": ...}");
  auto token = tokens.check(json["token"].get<std::string>());
  if (!token) return refuse(401, "ERR_UNAUTHENTICATED", token.error().message);
  const std::string csr = json["csr"].get<std::string>();
  auto uri = requested_uri(csr);
  if (!uri) return refuse(400, "ERR_MALFORMED_REQUEST", uri.error().message);
  auto id = parse_spiffe_id(*uri);
  if (!id) return refuse(400, "ERR_MALFORMED_REQUEST", id.error().message);
  auto ca = load_ca_directory(dir);
  if (!ca) {
    spdlog::error("the CA cannot sign: {}", ca.error().message);
    return refuse(503, "ERR_CA_UNAVAILABLE", "the CA cannot sign now");
  }
  const std::string who = "token " + token->id;
  if (id->trust_domain != ca->trust_domain)
    return refuse(403, "ERR_PERMISSION_DENIED",
                  *uri + " is not of the trust domain " + ca->trust_domain + " (" + who + ")");
  if (id->app_namespace != token->app_namespace ||
      (!token->app_id.empty() && id->app_id != token->app_id))
    return refuse(403, "ERR_PERMISSION_DENIED",
                  who + " does not cover " + *uri + " (it covers namespace " +
                      token->app_namespace +
                      (token->app_id.empty() ? "" : ", app id " + token->app_id) + ")");
  // A sidecar asks for its configured lifetime; the CA gives at most its own maximum.
  std::chrono::seconds ttl = max_cert_ttl;
  if (json.contains("ttl_seconds") && json["ttl_seconds"].is_number_unsigned())
    ttl = std::chrono::seconds(std::clamp<uint64_t>(json["ttl_seconds"].get<uint64_t>(), 1,
                                                    static_cast<uint64_t>(max_cert_ttl.count())));
  auto cert = sign_workload_request(ca->issuer, csr, *uri, ttl);
  if (!cert) return refuse(400, "ERR_MALFORMED_REQUEST", cert.error().message);
  nlohmann::json out = {{"chain", cert->chain_pem}, {"bundle", ca->bundle_pem}};
  return {200, json_text(out),
          "issued " + *uri + " to " + who + " for " + std::to_string(ttl.count()) + "s"};
}

}  // namespace skiff
