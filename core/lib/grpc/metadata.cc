#include "grpc/metadata.hpp"

#include <algorithm>

namespace skiff {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

namespace {
bool framing_header(std::string_view name) {
  return name.empty() || name.front() == ':' || name == "content-type" || name == "te" ||
         name == "user-agent" || name == "content-length" || name == "host" ||
         name == "connection" || name == "transfer-encoding" || name == "keep-alive" ||
         name.starts_with("grpc-") || name == "dapr-api-token" || name.starts_with("skiff-");
}
}  // namespace

bool metadata_name_ok(const std::string& name, const std::string& value) {
  if (framing_header(name)) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
      return false;
  if (name.ends_with("-bin")) return true;
  for (char c : value)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

std::vector<Header> headers_from_metadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  std::vector<Header> out;
  for (const auto& [k, v] : metadata) {
    std::string name(k.data(), k.size());
    if (framing_header(name)) continue;
    out.push_back(Header{std::move(name), std::string(v.data(), v.size())});
  }
  return out;
}

int grpc_code_for_http(unsigned s) {
  if (s >= 200 && s < 300) return 0;
  switch (s) {
    case 400:
      return 13;  // INTERNAL, as Dapr maps it
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 5;
    case 408:
      return 1;
    case 409:
      return 6;
    case 429:
      return 8;
    case 501:
      return 12;
    case 503:
      return 14;
    case 504:
      return 4;
    default:
      return 2;  // UNKNOWN
  }
}

}  // namespace skiff
