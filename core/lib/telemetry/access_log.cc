#include "telemetry/access_log.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace skiff {

void log_api_call(const AccessRecord& r, bool json) {
  const std::string message = std::string(r.protocol) + " API Called";
  const double duration = std::round(r.duration_ms * 1000) / 1000;
  if (json) {
    nlohmann::json fields = {
        {"msg", message},
        {"method", r.method},
        {"code", r.code},
        {"duration", duration},
        {"useragent", r.user_agent},
        {"scope", r.protocol == "HTTP" ? "skiffd.http-info" : "skiffd.grpc-info"}};
    if (!r.trace_id.empty()) fields["trace_id"] = r.trace_id;
    if (!r.target_app_id.empty()) fields["target_app_id"] = r.target_app_id;
    spdlog::info("{}{}", kFieldsMarker,
                 fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  // Values a caller chose (path, user agent) are quoted with their quotes and control bytes
  // escaped, so that a request cannot forge a log line.
  auto quoted = [](std::string_view v) {
    std::string out = "\"";
    for (unsigned char c : v) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20 || c == 0x7f) {
        out += fmt::format("\\x{:02x}", c);
      } else {
        out += static_cast<char>(c);
      }
    }
    return out + "\"";
  };
  spdlog::info("{} method={} code={} duration={} useragent={}{}{}", message, quoted(r.method),
               r.code, duration, quoted(r.user_agent),
               r.trace_id.empty() ? "" : " trace_id=" + std::string(r.trace_id),
               r.target_app_id.empty() ? "" : " target_app_id=" + quoted(r.target_app_id));
}

}  // namespace skiff
