#include "invoke/target.hpp"

#include <algorithm>
#include <boost/beast/core/detail/base64.hpp>
#include <cctype>
#include <vector>

namespace skiff {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Error invalid(std::string message) {
  return make_error(SKIFF_ERR_INVALID_ARGUMENT, std::move(message));
}

std::pair<std::string_view, std::string_view> split_query(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

bool valid_id(std::string_view id) {
  if (id.empty()) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      return false;
  return true;
}

}  // namespace

bool valid_percent_encoding(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size()) return false;
    if (hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0) return false;
    i += 2;
  }
  return true;
}

std::optional<std::string> percent_decode(std::string_view s) {
  if (!valid_percent_encoding(s)) return std::nullopt;
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Result<InvokeTarget> split_app_id(std::string_view app, std::string_view default_namespace) {
  InvokeTarget t;
  auto dot = app.find('.');
  if (dot == std::string_view::npos) {
    t.app_id = app;
    t.app_namespace = default_namespace;
  } else {
    if (app.find('.', dot + 1) != std::string_view::npos)
      return invalid("invalid app id '" + std::string(app) +
                     "': expected 'app' or 'app.namespace'");
    t.app_id = app.substr(0, dot);
    t.app_namespace = app.substr(dot + 1);
  }
  if (!valid_id(t.app_id) || !valid_id(t.app_namespace))
    return invalid("invalid app id '" + std::string(app) + "'");
  return t;
}

Result<std::string> normalize_method(std::string_view raw) {
  for (unsigned char c : raw)
    if (c < 0x20 || c == 0x7f || c == '#')
      return invalid("invalid method: control characters and '#' are not allowed");
  if (!valid_percent_encoding(raw)) return invalid("invalid method: malformed percent-encoding");
  bool trailing_slash = !raw.empty() && raw.back() == '/';
  std::vector<std::string_view> segments;
  std::string_view rest = raw;
  while (!rest.empty()) {
    auto pos = rest.find('/');
    auto seg = rest.substr(0, pos);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    if (pos == std::string_view::npos) break;
    rest.remove_prefix(pos + 1);
  }
  std::string out;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i) out.push_back('/');
    out.append(segments[i]);
  }
  if (trailing_slash && !out.empty()) out.push_back('/');
  return out;
}

namespace {
// A full http(s) URL names an endpoint without a sidecar; anything else is "app[.namespace]".
Result<InvokeTarget> app_or_url(std::string_view app, std::string_view default_namespace) {
  if (app.starts_with("http://") || app.starts_with("https://")) {
    InvokeTarget t;
    t.app_id = std::string(app);
    t.is_url = true;
    return t;
  }
  return split_app_id(app, default_namespace);
}
}  // namespace

Result<InvokeTarget> target_from_url(std::string_view request_target,
                                     std::string_view default_namespace) {
  auto [path, query] = split_query(request_target);
  if (!path.starts_with(kInvokePrefix))
    return make_error(SKIFF_ERR_NOT_FOUND, "not an invocation path");
  path.remove_prefix(kInvokePrefix.size());
  auto slash = path.find('/');
  std::string_view app_raw = path.substr(0, slash);
  std::string_view after =
      slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  if (app_raw.empty())
    return make_error(SKIFF_ERR_NOT_FOUND,
                      "failed getting app id either from the URL path or the header dapr-app-id");
  constexpr std::string_view kMethod = "/method";
  if (!after.starts_with(kMethod) ||
      (after.size() > kMethod.size() && after[kMethod.size()] != '/'))
    return make_error(SKIFF_ERR_NOT_FOUND,
                      "invalid invocation path: expected /v1.0/invoke/{app-id}/method/{method}");
  after.remove_prefix(std::min(after.size(), kMethod.size() + 1));
  auto app = percent_decode(app_raw);
  if (!app) return invalid("invalid app id: malformed percent-encoding");
  auto t = app_or_url(*app, default_namespace);
  if (!t) return t;
  auto method = normalize_method(after);
  if (!method) return method.error();
  if (method->empty()) return invalid("invalid method name: the method is empty");
  t->method = std::move(*method);
  t->query = query;
  return t;
}

Result<InvokeTarget> target_from_header(std::string_view app_id, std::string_view request_target,
                                        std::string_view default_namespace) {
  auto [path, query] = split_query(request_target);
  auto t = app_or_url(app_id, default_namespace);
  if (!t) return t;
  while (path.starts_with('/')) path.remove_prefix(1);
  auto method = normalize_method(path);
  if (!method) return method.error();
  if (method->empty()) return invalid("invalid method name: the method is empty");
  t->method = std::move(*method);
  t->query = query;
  return t;
}

std::optional<std::string> app_id_from_basic_auth(std::string_view authorization) {
  constexpr std::string_view kBasic = "Basic ";
  if (authorization.size() <= kBasic.size() ||
      !std::equal(kBasic.begin(), kBasic.end(), authorization.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
    return std::nullopt;
  auto encoded = authorization.substr(kBasic.size());
  while (encoded.ends_with('=')) encoded.remove_suffix(1);  // padding: decode() stops there
  std::string decoded(boost::beast::detail::base64::decoded_size(encoded.size()) + 1, '\0');
  auto [written, read] =
      boost::beast::detail::base64::decode(decoded.data(), encoded.data(), encoded.size());
  if (read != encoded.size()) return std::nullopt;
  decoded.resize(written);
  constexpr std::string_view kUser = "dapr-app-id:";
  if (!std::string_view(decoded).starts_with(kUser)) return std::nullopt;
  auto id = decoded.substr(kUser.size());
  if (id.empty()) return std::nullopt;
  return id;
}

// A method name from InvokeService as a path segment list: characters that cannot appear in a
// request-target are percent-encoded; '/' stays a separator.
std::string encode_method(std::string_view m) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : m) {
    bool plain =
        std::isalnum(c) ||
        std::string_view("-._~/!$&'()*+,;=:@").find(static_cast<char>(c)) != std::string_view::npos;
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace skiff
