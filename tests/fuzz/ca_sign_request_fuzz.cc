// The CA service's answer to a certificate request, with a real CA directory and token database:
// the first byte picks whether the rest is the whole request body, or a certificate request sent
// with a valid join token (so that the CSR parsing and the identity checks are reached).
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "ca/ca_directory.hpp"
#include "ca/join_tokens.hpp"
#include "ca/sign_request.hpp"
#include "common/json_text.hpp"

namespace {

struct Ca {
  std::filesystem::path dir;
  std::unique_ptr<skiff::JoinTokenStore> tokens;
  std::string prod_token, bound_token;
};

Ca& ca() {
  static Ca c = [] {
    Ca out;
    char tmpl[] = "/tmp/skiff-ca-fuzz-XXXXXX";
    out.dir = std::filesystem::path(mkdtemp(tmpl)) / "ca";
    if (!skiff::init_ca_directory(out.dir, "fuzz.example", std::chrono::hours(24),
                                  std::chrono::hours(24)))
      abort();
    out.tokens = std::move(*skiff::JoinTokenStore::open(out.dir / "tokens.db"));
    out.prod_token = *out.tokens->create("prod", "", 0);
    out.bound_token = *out.tokens->create("prod", "a", 0);
    return out;
  }();
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto& c = ca();
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string body;
  switch (data[0] % 3) {
    case 0:
      body = rest;
      break;
    case 1:
      body = skiff::json_text({{"token", c.prod_token}, {"csr", rest}});
      break;
    default:
      body = skiff::json_text({{"token", c.bound_token}, {"csr", rest}, {"ttl_seconds", size}});
  }
  auto answer = skiff::answer_sign_request(c.dir, *c.tokens, body, std::chrono::seconds(3600));
  if (answer.status == 0 || answer.body.empty()) abort();
  return 0;
}
