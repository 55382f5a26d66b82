// Keys and certificates with OpenSSL: a root CA for a trust domain and X.509-SVIDs it signs
// (ECDSA P-256, SHA-256), all as PEM text.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace skiff {

struct CaMaterial {
  std::string cert_pem;
  std::string key_pem;
};

struct WorkloadCertificate {
  std::string chain_pem;  // leaf first, then the issuing CA
  std::string key_pem;
  std::chrono::system_clock::time_point not_before, not_after;
};

// A self-signed root: CA:TRUE (critical), keyCertSign and cRLSign, URI SAN spiffe://<td>.
Result<CaMaterial> make_root_ca(std::string_view trust_domain, std::chrono::seconds lifetime);

// An X.509-SVID for `spiffe_uri`, signed by `ca`: exactly one URI SAN, CA:FALSE, digitalSignature,
// serverAuth and clientAuth, with a fresh P-256 key. Valid from a minute ago (clock skew between
// machines) for `lifetime`, but never past the CA's own end.
Result<WorkloadCertificate> issue_workload_certificate(const CaMaterial& ca,
                                                       std::string_view spiffe_uri,
                                                       std::chrono::seconds lifetime);

// The validity of the first certificate of a PEM text.
Result<std::pair<std::chrono::system_clock::time_point, std::chrono::system_clock::time_point>>
certificate_validity(std::string_view pem);

}  // namespace skiff
