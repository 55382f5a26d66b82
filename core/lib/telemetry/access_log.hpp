// One log line per call of the app-facing APIs (`--enable-api-logging`, daprd's flag), with
// daprd's message and field names: "HTTP API Called" / "gRPC API Called", method, code, duration
// (ms), useragent; plus the call's trace id and target app. Plain text, or fields of the JSON
// line with `--log-as-json`. Off by default, as with daprd; when off it costs nothing.
#pragma once

#include <string>
#include <string_view>

namespace skiff {

struct AccessRecord {
  std::string_view protocol;  // "HTTP" or "gRPC"
  std::string_view method;    // "POST /v1.0/invoke/cart/method/orders" or a gRPC method path
  std::string_view code;      // "200", or a gRPC code name
  double duration_ms = 0;
  std::string_view user_agent;
  std::string_view trace_id;  // 32 hex digits, or empty
  std::string_view target_app_id;
};

// The marker the JSON log formatter reads: a message that starts with it carries a JSON object
// whose fields go into the line.
inline constexpr char kFieldsMarker = '\x1e';

void log_api_call(const AccessRecord& record, bool json);

}  // namespace skiff
