// The CA service's protocol (`skiff ca serve`), shared by its server and the sidecars' client:
// HTTP/1.1 over TLS 1.3, the server's certificate an X.509 chain to the trust bundle naming
// ca_service_uri(trust domain).
//
//   POST /v1/sign   {"token": "<join token>", "csr": "<PEM request>", "ttl_seconds": N}
//   200             {"chain": "<PEM leaf + issuing CA>", "bundle": "<PEM roots>"}
//   4xx / 5xx       {"errorCode": "...", "message": "..."}
//
// The request's one URI SAN names the identity asked for; the token decides whether it is given.
#pragma once

#include <cstddef>
#include <string_view>

namespace skiff::ca_protocol {

inline constexpr std::string_view kSignPath = "/v1/sign";
inline constexpr std::size_t kMaxRequestBody = 32 * 1024;
inline constexpr std::size_t kMaxResponseBody = 256 * 1024;

}  // namespace skiff::ca_protocol
