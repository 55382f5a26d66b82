#include "http/messages.hpp"

#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/string.hpp>
#include <nlohmann/json.hpp>

#include "common/http_syntax.hpp"
#include "common/json_text.hpp"

namespace skiff {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return boost::beast::iequals(a, b);
}

bool named_in_connection(const http::fields& fields, std::string_view name) {
  for (auto it = fields.find(http::field::connection);
       it != fields.end() && it->name() == http::field::connection; ++it) {
    for (auto token : http::token_list(it->value()))
      if (iequals(token, name)) return true;
  }
  return false;
}

}  // namespace

Response dapr_error(unsigned status, std::string_view code, std::string_view message) {
  Response res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.body() = json_text(nlohmann::json{{"errorCode", code}, {"message", message}});
  res.prepare_payload();
  return res;
}

bool is_hop_by_hop(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
      "te", "trailer", "transfer-encoding", "upgrade", "content-length", "host",
      // Each hop negotiates 100-continue itself; forwarded, it would make the app answer twice.
      "expect",
      // A gRPC app's status, between sidecars only (see grpc_app_channel.cc).
      "skiff-grpc-status", "skiff-grpc-message", "skiff-any-type", "skiff-grpc-proxy"};
  for (auto n : kNames)
    if (iequals(n, name)) return true;
  return false;
}

std::vector<Header> forwardable_request_headers(const http::fields& fields) {
  std::vector<Header> out;
  for (const auto& f : fields) {
    auto name = f.name_string();
    if (is_hop_by_hop(name) || named_in_connection(fields, name)) continue;
    // Control headers; dapr-callee-app-id is set by the caller's sidecar itself.
    if (iequals(name, "dapr-app-id") || iequals(name, "dapr-api-token") ||
        iequals(name, "dapr-callee-app-id"))
      continue;
    out.push_back(Header{std::string(name), std::string(f.value())});
  }
  return out;
}

void copy_end_to_end_headers(const std::vector<Header>& headers, http::fields& fields) {
  for (const auto& h : headers)
    if (!is_hop_by_hop(h.name)) fields.insert(h.name, h.value);
}

std::vector<Header> end_to_end_headers(const http::fields& fields) {
  std::vector<Header> out;
  for (const auto& f : fields) {
    auto name = f.name_string();
    if (is_hop_by_hop(name) || named_in_connection(fields, name)) continue;
    out.push_back(Header{std::string(name), std::string(f.value())});
  }
  return out;
}

void encode_binary_values(std::vector<Header>& headers) {
  namespace b64 = boost::beast::detail::base64;
  for (auto& h : headers) {
    if (!h.name.ends_with("-bin")) continue;
    std::string out(b64::encoded_size(h.value.size()), '\0');
    out.resize(b64::encode(out.data(), h.value.data(), h.value.size()));
    h.value = std::move(out);
  }
}

std::optional<std::string> invalid_headers(const std::vector<Header>& headers) {
  for (const auto& h : headers)
    if (is_hop_by_hop(h.name))
      continue;  // never written: copy_end_to_end_headers skips them
    else if (auto why = invalid_header(h.name, h.value))
      return why;
  return std::nullopt;
}

std::optional<FramingProblem> framing_problem(const http::fields& fields, bool chunked,
                                              unsigned version) {
  auto it = fields.find(http::field::transfer_encoding);
  if (it == fields.end()) return std::nullopt;
  if (version < 11)
    return FramingProblem{400, "Transfer-Encoding is not allowed in an HTTP/1.0 message"};
  if (!chunked)
    return FramingProblem{400,
                          "the final Transfer-Encoding is not chunked: the body length "
                          "cannot be determined"};
  for (; it != fields.end() && it->name() == http::field::transfer_encoding; ++it)
    for (auto coding : http::token_list(it->value()))
      if (!iequals(coding, "chunked"))
        return FramingProblem{501, "Transfer-Encoding '" + std::string(coding) +
                                       "' is not supported (only chunked is)"};
  return std::nullopt;
}

}  // namespace skiff
