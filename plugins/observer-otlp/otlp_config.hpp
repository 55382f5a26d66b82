// observer-otlp's settings: the host's table (endpoint, service_name) and OpenTelemetry's
// standard environment variables, read as the OpenTelemetry SDKs read them.
#ifndef SKIFF_OBSERVER_OTLP_CONFIG_HPP
#define SKIFF_OBSERVER_OTLP_CONFIG_HPP

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace skiff::otlp {

struct ExportConfig {
  std::string host, port = "4318", target = "/v1/traces";  // from the endpoint URL
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::pair<std::string, std::string>> resource;  // service.name first
  uint64_t timeout_ms = 10000;
  uint64_t schedule_delay_ms = 5000;
  size_t max_queue = 2048;
  size_t max_batch = 512;
};

// `endpoint` and `service_name` come from the host's table (either may be empty); `env` reads
// one variable (empty when unset). Throws std::invalid_argument saying which setting is wrong;
// `warn` gets what is ignored.
ExportConfig read_export_config(const std::string& endpoint, const std::string& service_name,
                                const std::function<std::string(const char*)>& env,
                                const std::function<void(const std::string&)>& warn);

// "k1=v1,k2=v2" with percent-encoded values (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES).
// Malformed entries are left out and named in `bad`.
std::vector<std::pair<std::string, std::string>> parse_key_values(const std::string& text,
                                                                  std::vector<std::string>& bad);

}  // namespace skiff::otlp

#endif
