// API tokens, as Dapr's: an app proves itself to its sidecar with `dapr-api-token`
// (DAPR_API_TOKEN), and a sidecar to its app with the same header (APP_API_TOKEN).
#pragma once

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <string_view>

namespace skiff {

inline constexpr std::string_view kApiTokenHeader = "dapr-api-token";

// Compares digests, in constant time: neither the token's bytes nor its length show in how long
// a wrong guess takes.
inline bool api_token_matches(std::string_view expected, std::string_view given) {
  unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(given.data()), given.size(), b);
  return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

}  // namespace skiff
