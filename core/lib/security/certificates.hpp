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

// An issuing CA signed by `root` (CA:TRUE, pathlen:0): `skiff ca serve` signs with it, so the
// root's key can stay offline.
Result<CaMaterial> make_issuing_ca(const CaMaterial& root, std::string_view trust_domain,
                                   std::chrono::seconds lifetime);

// An X.509-SVID for `spiffe_uri`, signed by `ca`: exactly one URI SAN, CA:FALSE, digitalSignature,
// serverAuth and clientAuth, with a fresh P-256 key. Valid from a minute ago (clock skew between
// machines) for `lifetime`, but never past the CA's own end. The chain is the leaf and the CA's
// first certificate; the CA's key must match that certificate.
Result<WorkloadCertificate> issue_workload_certificate(const CaMaterial& ca,
                                                       std::string_view spiffe_uri,
                                                       std::chrono::seconds lifetime);

// A fresh P-256 key and a certificate request naming `spiffe_uri` as its one URI SAN: what a
// sidecar sends to the CA service, keeping the key.
struct WorkloadRequest {
  std::string key_pem;
  std::string csr_pem;
};
Result<WorkloadRequest> make_workload_request(std::string_view spiffe_uri);

// The one URI SAN a certificate request asks for, once its signature is checked.
Result<std::string> requested_uri(std::string_view csr_pem);

// Signs the request's key (ECDSA P-256 only) as an X.509-SVID for `spiffe_uri`: the CA decides
// the name and every extension, the request gives only the key. `key_pem` of the result is empty.
Result<WorkloadCertificate> sign_workload_request(const CaMaterial& ca, std::string_view csr_pem,
                                                  std::string_view spiffe_uri,
                                                  std::chrono::seconds lifetime);

// Verifies a chain (leaf first, then intermediates) against the roots of a trust bundle, at the
// current time, and returns the leaf's SPIFFE ID (an X.509-SVID's).
Result<std::string> verify_chain(std::string_view chain_pem, std::string_view bundle_pem);

// The validity of the first certificate of a PEM text.
Result<std::pair<std::chrono::system_clock::time_point, std::chrono::system_clock::time_point>>
certificate_validity(std::string_view pem);

}  // namespace skiff
