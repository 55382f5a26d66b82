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

namespace {
// Protobuf wire format, just enough for three small messages.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_bytes(std::string& out, int field, std::string_view v) {
  put_varint(out, static_cast<uint64_t>(field) << 3 | 2);
  put_varint(out, v.size());
  out.append(v);
}
}  // namespace

std::string http_error_details(int code, const std::string& text, unsigned http_status,
                               std::string_view body) {
  auto entry = [](std::string_view k, std::string_view v) {
    std::string e;
    put_bytes(e, 1, k);
    put_bytes(e, 2, v);
    return e;
  };
  std::string info;  // google.rpc.ErrorInfo
  put_bytes(info, 1, text);
  put_bytes(info, 2, "dapr.io");
  put_bytes(info, 3, entry("http.code", std::to_string(http_status)));
  put_bytes(info, 3, entry("http.error_message", body.substr(0, 63)));
  std::string any;  // google.protobuf.Any
  put_bytes(any, 1, "type.googleapis.com/google.rpc.ErrorInfo");
  put_bytes(any, 2, info);
  std::string status;  // google.rpc.Status
  put_varint(status, 1 << 3);
  put_varint(status, static_cast<uint64_t>(code));
  put_bytes(status, 2, text);
  put_bytes(status, 3, any);
  return status;
}

}  // namespace skiff
