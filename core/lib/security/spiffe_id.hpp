// Workload identities: SPIFFE IDs of the form spiffe://<trust-domain>/ns/<namespace>/<app-id>
// (Dapr's), and the X.509-SVID rules a peer's certificate must meet.
#pragma once

#include <openssl/x509.h>

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace skiff {

struct SpiffeId {
  std::string trust_domain;
  std::string app_namespace;
  std::string app_id;  // kAnonymousApp for a sidecar without an app
  std::string uri() const;
};

// The app segment of a sidecar that fronts no app: not a valid app id, so no app can claim it.
inline constexpr std::string_view kAnonymousApp = ".none";

std::string spiffe_uri(std::string_view trust_domain, std::string_view ns, std::string_view app_id);

// Parses spiffe://<trust-domain>/ns/<namespace>/<app-id>; the error says what is wrong.
Result<SpiffeId> parse_spiffe_id(std::string_view uri);

// A trust domain as SPIFFE allows it: lower-case letters, digits, '.', '-' and '_'.
bool valid_trust_domain(std::string_view td);

// The URI of a certificate's one URI SAN (an error when it has none or several).
Result<std::string> single_uri_san(X509* cert);

// The SPIFFE ID of the CA service (`skiff ca serve`): no workload path, so no workload
// certificate can carry it.
inline std::string ca_service_uri(std::string_view trust_domain) {
  return "spiffe://" + std::string(trust_domain) + "/skiff-ca";
}

// The SPIFFE ID of an X.509-SVID leaf: exactly one URI SAN, a spiffe:// one, and not a CA.
Result<std::string> svid_uri(X509* leaf);

}  // namespace skiff
