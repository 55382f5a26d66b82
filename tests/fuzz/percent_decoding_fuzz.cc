// Percent-decoding and the method and app-id rules built on it: whatever is accepted decodes,
// and what is encoded for InvokeService normalizes into a method that can be written as a path.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/http_syntax.hpp"
#include "invoke/target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool valid = skiff::valid_percent_encoding(in);
  auto decoded = skiff::percent_decode(in);
  if (valid != decoded.has_value()) std::abort();
  if (auto method = skiff::normalize_method(in); method) (void)skiff::is_http_target_part(*method);
  auto encoded = skiff::encode_method(in);
  if (!skiff::valid_percent_encoding(encoded)) std::abort();
  if (auto method = skiff::normalize_method(encoded);
      method && !skiff::is_http_target_part(*method))
    std::abort();  // InvokeService's method must never put a space or a CR/LF on the request line
  (void)skiff::split_app_id(in, "default");
  return 0;
}
