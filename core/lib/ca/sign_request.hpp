// The CA service's decision on one certificate request (see security/ca_protocol.hpp), apart from
// the network: what the server runs on its pool, and what tests and the fuzz target drive directly.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include "ca/join_tokens.hpp"

namespace skiff {

// What one sign request is answered: an HTTP status and a JSON body.
struct SignAnswer {
  unsigned status = 200;
  std::string body;
  std::string log;  // a line for the CA's log: what was issued to whom, or why not
};
SignAnswer answer_sign_request(const std::filesystem::path& dir, JoinTokenStore& tokens,
                               std::string_view body, std::chrono::seconds max_cert_ttl);

}  // namespace skiff
