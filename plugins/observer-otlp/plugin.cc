// observer-otlp: exports the sidecar's spans (on_span) to an OpenTelemetry collector over
// OTLP/HTTP with protobuf bodies, from a bounded queue on the plugin's own worker. The host creates
// it when tracing.otlp_endpoint or OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; its table holds
// `endpoint` (empty: the variables) and `service_name` (the app id).
#include "skiff/plugin.hpp"

#include <cstdlib>
#include <memory>
#include <string>

#include "bundled_plugin.hpp"
#include "exporter.hpp"
#include "otlp_config.hpp"

namespace {

using skiff::otlp::ExportConfig;
using skiff::otlp::Exporter;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

void log_line(const skiff_host_api_t* host, int32_t level, const std::string& message) {
  host->log(host->host, level, skiff::sdk::str("observer-otlp"), skiff::sdk::str(message));
}

ExportConfig parse_config(const skiff_host_api_t* host, const skiff_config_t* config, bool quiet) {
  skiff::sdk::ConfigReader reader(host, config);
  static constexpr std::string_view kKeys[] = {"endpoint", "service_name"};
  reader.reject_unknown_keys(kKeys);
  // The messages name tracing.otlp_endpoint or the variable the URL came from.
  return skiff::otlp::read_export_config(reader.string_or("endpoint", ""),
                                         reader.string_or("service_name", ""), env,
                                         [&](const std::string& warning) {
                                           if (!quiet) log_line(host, SKIFF_LOG_WARN, warning);
                                         });
}

struct OtlpObserver {
  OtlpObserver(const skiff_host_api_t* host, ExportConfig cfg)
      : exporter(std::move(cfg), [host](int32_t level, const std::string& message) {
          log_line(host, level, message);
        }) {}
  Exporter exporter;
};

skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config, void** instance,
                      skiff_errbuf_t err) {
  return skiff::sdk::guard(err, [&]() -> skiff_status_t {
    ExportConfig cfg = parse_config(host, config, false);
    const std::string where =
        "http://" + (cfg.host.find(':') != std::string::npos ? "[" + cfg.host + "]" : cfg.host) +
        ":" + cfg.port + cfg.target;
    const std::string service = cfg.resource.front().second;
    *instance = new OtlpObserver(host, std::move(cfg));
    log_line(host, SKIFF_LOG_INFO,
             "exporting spans of service " + service + " to " + where + " (OTLP/HTTP protobuf)");
    return SKIFF_OK;
  });
}

void destroy(void* instance) {
  delete static_cast<OtlpObserver*>(instance);
}

void on_span(void* instance, const skiff_span_t* span) {
  try {
    static_cast<OtlpObserver*>(instance)->exporter.add(*span);
  } catch (...) {
    // Out of memory while copying: the span is lost, the call is not.
  }
}

skiff_status_t check_config(const skiff_host_api_t* host, const skiff_config_t* config,
                            skiff_errbuf_t err) {
  return skiff::sdk::guard(err, [&]() -> skiff_status_t {
    parse_config(host, config, true);
    return SKIFF_OK;
  });
}

const skiff_observer_vtable_v1_t kVtable = {
    sizeof(skiff_observer_vtable_v1_t), create, destroy, on_span, nullptr, nullptr};
const skiff_component_t kComponent = {sizeof(skiff_component_t), SKIFF_KIND_OBSERVER, "otlp",
                                      &kVtable, check_config};

}  // namespace

SKIFF_BUNDLED_PLUGIN(kComponent, "observer-otlp")
