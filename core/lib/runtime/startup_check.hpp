// What start-up checks before it opens a port or registers anywhere, shared by skiffd's start and
// its check mode (`skiffd --check-config`, `skiff config check`), so that check mode accepts
// exactly the configurations start-up accepts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/settings.hpp"
#include "plugin/catalog.hpp"
#include "security/identity_keeper.hpp"

namespace skiff {

// The resolver and transport the configuration names, found on the plugin path.
// The observer component that serves metrics (plugin observer-prometheus).
inline constexpr std::string_view kMetricsExporterType = "prometheus";
// The observer component that exports spans (plugin observer-otlp).
inline constexpr std::string_view kSpanExporterType = "otlp";

// Whether spans are exported: tracing.otlp_endpoint, or OpenTelemetry's standard variables
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT) unless OTEL_SDK_DISABLED=true
// or OTEL_TRACES_EXPORTER=none.
bool spans_wanted(const Settings& settings);
// The table the span exporter is created with: endpoint (empty: the variables) and service_name.
toml::table span_exporter_config(const Settings& settings);

struct ConfiguredComponents {
  LoadedComponent resolver;
  LoadedComponent transport;
  // The observer that serves metrics (type "prometheus"), when metrics are on and it is installed.
  std::optional<LoadedComponent> metrics_exporter;
  // The observer that exports spans (type "otlp"), when spans_wanted() and it is installed.
  std::optional<LoadedComponent> span_exporter;
  // The [[observers]] and the [[middleware]], in their order.
  std::vector<LoadedComponent> observers;
  std::vector<LoadedComponent> middleware;
  // Plugins the loader refused on the way (the components above were found regardless).
  std::vector<LoadFailure> refused;
};
// An unknown type is an error naming where resolver.type / transport.type was set.
Result<ConfiguredComponents> find_configured_components(const Settings& settings,
                                                        const skiff_host_api_t* host);

// The table the metrics exporter is created with: metrics.address and metrics.port.
toml::table metrics_exporter_config(const Settings& settings);

// This sidecar's identity and where its certificates come from, as [security] says.
IdentityConfig identity_config(const Settings& settings);

// Check mode: finds the components and runs their own configuration checks, sets up the HTTP
// endpoints (TLS files included) and loads the gRPC module when the app speaks gRPC. Nothing is
// started: no thread, port, file or registration. Returns the warnings start-up would log.
Result<std::vector<std::string>> check_startup(const Settings& settings);

}  // namespace skiff
