// Parsing of the invocation target from an app's HTTP request: the URL form
// /v1.0/invoke/{app-id}/method/{method...}, the dapr-app-id header form, and the basic-auth form.
// The method stays exactly as the caller percent-encoded it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace skiff {

struct InvokeTarget {
  std::string app_id;
  std::string app_namespace;
  std::string method;   // without a leading '/', still percent-encoded
  std::string query;    // raw, without '?'
  bool is_url = false;  // app_id is a full http(s):// URL: an endpoint without a sidecar
};

inline constexpr std::string_view kInvokePrefix = "/v1.0/invoke/";

// True when every '%' is followed by two hex digits.
bool valid_percent_encoding(std::string_view s);
std::optional<std::string> percent_decode(std::string_view s);

// Splits "app" or "app.namespace"; a missing namespace means `default_namespace`.
Result<InvokeTarget> split_app_id(std::string_view app, std::string_view default_namespace);

// Dot segments resolved, repeated slashes collapsed, control characters and '#' refused.
Result<std::string> normalize_method(std::string_view raw_path);
// A method name from gRPC's InvokeService as a path: characters that cannot appear in a
// request-target are percent-encoded; '/' stays a separator.
std::string encode_method(std::string_view method);

// `request_target` is the raw request-target (path and query) of an HTTP request.
Result<InvokeTarget> target_from_url(std::string_view request_target,
                                     std::string_view default_namespace);
Result<InvokeTarget> target_from_header(std::string_view app_id, std::string_view request_target,
                                        std::string_view default_namespace);
// "Basic base64(dapr-app-id:<id>)" gives <id>; anything else gives nothing.
std::optional<std::string> app_id_from_basic_auth(std::string_view authorization);

}  // namespace skiff
