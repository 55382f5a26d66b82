#include "runtime/startup_check.hpp"

#include <boost/asio/io_context.hpp>

#include "api/external.hpp"
#include "api/grpc_module.hpp"
#include "plugin/components.hpp"
#include "plugin/host_services.hpp"
#include "security/certificates.hpp"
#include "security/local_ca.hpp"
#include "security/spiffe_id.hpp"

namespace skiff {

namespace {

// The component of each [[observers]] or [[middleware]] entry, in their order; a type no loaded
// plugin provides is an error naming where the entry's type was set.
template <typename Entry>
Status find_each(const Settings& settings, const PluginCatalog& catalog, uint32_t kind,
                 const std::vector<Entry>& entries, std::vector<LoadedComponent>& out) {
  for (const auto& entry : entries) {
    const auto* component = catalog.find(kind, entry.type);
    if (!component)
      return make_error(SKIFF_ERR_NOT_FOUND, settings.where(entry.at + ".type") + ": " +
                                                 catalog.describe_missing(kind, entry.type));
    out.push_back(*component);
  }
  return Ok{};
}

// Each entry's own table, checked by its component as create() would.
template <typename Entry>
Status check_each(const skiff_host_api_t* host, const std::vector<LoadedComponent>& components,
                  const std::vector<Entry>& entries) {
  for (size_t i = 0; i < components.size() && i < entries.size(); ++i)
    if (auto checked = check_component_config(components[i], host, entries[i].config,
                                              entries[i].at + ".config");
        !checked)
      return checked.error();
  return Ok{};
}

}  // namespace

Result<ConfiguredComponents> find_configured_components(const Settings& settings,
                                                        const skiff_host_api_t* host) {
  std::vector<PluginCatalog::Wanted> wanted = {{SKIFF_KIND_RESOLVER, settings.resolver_type},
                                               {SKIFF_KIND_TRANSPORT, settings.transport_type}};
  if (settings.metrics_enabled)
    wanted.push_back({SKIFF_KIND_OBSERVER, std::string(kMetricsExporterType)});
  const bool spans = spans_wanted(settings);
  if (spans) wanted.push_back({SKIFF_KIND_OBSERVER, std::string(kSpanExporterType)});
  for (const auto& observer : settings.observers)
    wanted.push_back({SKIFF_KIND_OBSERVER, observer.type});
  for (const auto& middleware : settings.middleware)
    wanted.push_back({SKIFF_KIND_MIDDLEWARE, middleware.type});
  auto catalog =
      PluginCatalog::load_wanted(plugin_search_path(settings.plugin_paths), host, wanted);
  const auto* resolver = catalog.find(SKIFF_KIND_RESOLVER, settings.resolver_type);
  if (!resolver)
    return make_error(SKIFF_ERR_NOT_FOUND,
                      settings.where("resolver.type") + ": " +
                          catalog.describe_missing(SKIFF_KIND_RESOLVER, settings.resolver_type));
  const auto* transport = catalog.find(SKIFF_KIND_TRANSPORT, settings.transport_type);
  if (!transport)
    return make_error(SKIFF_ERR_NOT_FOUND,
                      settings.where("transport.type") + ": " +
                          catalog.describe_missing(SKIFF_KIND_TRANSPORT, settings.transport_type));
  ConfiguredComponents found{*resolver, *transport, std::nullopt,      std::nullopt,
                             {},        {},         catalog.failures()};
  if (auto st =
          find_each(settings, catalog, SKIFF_KIND_OBSERVER, settings.observers, found.observers);
      !st)
    return st.error();
  if (auto st = find_each(settings, catalog, SKIFF_KIND_MIDDLEWARE, settings.middleware,
                          found.middleware);
      !st)
    return st.error();
  if (spans) {
    if (const auto* exporter = catalog.find(SKIFF_KIND_OBSERVER, kSpanExporterType))
      found.span_exporter = *exporter;
    else if (!settings.tracing_otlp_endpoint.empty())
      return make_error(SKIFF_ERR_NOT_FOUND,
                        settings.where("tracing.otlp_endpoint") +
                            ": spans are exported by the observer-otlp plugin: " +
                            catalog.describe_missing(SKIFF_KIND_OBSERVER, kSpanExporterType));
  }
  if (settings.metrics_enabled) {
    if (const auto* exporter = catalog.find(SKIFF_KIND_OBSERVER, kMetricsExporterType))
      found.metrics_exporter = *exporter;
    else if (settings.is_explicit("metrics.enabled") || settings.is_explicit("metrics.port"))
      // Asked for by name: a sidecar without the exposition would leave the operator's scrape
      // failing with no reason at the sidecar.
      return make_error(SKIFF_ERR_NOT_FOUND,
                        settings.where(settings.is_explicit("metrics.port") ? "metrics.port"
                                                                            : "metrics.enabled") +
                            ": metrics are served by the observer-prometheus plugin: " +
                            catalog.describe_missing(SKIFF_KIND_OBSERVER, kMetricsExporterType));
  }
  return found;
}

bool spans_wanted(const Settings& settings) {
  if (!settings.tracing_otlp_endpoint.empty()) return true;
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string_view(v ? v : "");
  };
  if (env("OTEL_SDK_DISABLED") == "true" || env("OTEL_TRACES_EXPORTER") == "none") return false;
  return !env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").empty() ||
         !env("OTEL_EXPORTER_OTLP_ENDPOINT").empty();
}

toml::table span_exporter_config(const Settings& settings) {
  return toml::table{{"endpoint", settings.tracing_otlp_endpoint},
                     {"service_name", settings.app_id.empty() ? "skiffd" : settings.app_id}};
}

toml::table metrics_exporter_config(const Settings& settings) {
  return toml::table{{"address", settings.metrics_address}, {"port", settings.metrics_port}};
}

namespace {

// What start-up would refuse of the certificate source, without contacting a CA or making one:
// watched files must be a complete set for this sidecar, the CA service's bundle readable.
Status check_identity_source(const Settings& settings) {
  if (!settings.mtls) return Ok{};
  if (!settings.ca_bundle.empty())
    if (auto bundle = read_text_file(settings.ca_bundle); !bundle)
      return make_error(bundle.error().code,
                        settings.where("security.ca_bundle") + ": " + bundle.error().message);
  if (settings.cert_file.empty()) return Ok{};
  auto config = identity_config(settings);
  const auto identity = spiffe_uri(config.trust_domain, config.app_namespace,
                                   config.app_id.empty() ? kAnonymousApp : config.app_id);
  auto creds = config.source->fetch(identity, config.lifetime);
  Result<std::string> uri = creds ? verify_chain(creds->chain_pem, creds->bundle_pem)
                                  : Result<std::string>(creds.error());
  if (uri && *uri != identity)
    uri = make_error(SKIFF_ERR_INVALID_ARGUMENT, "the certificate is for " + *uri +
                                                     ", not for this sidecar (" + identity + ")");
  if (!uri)
    return make_error(uri.error().code,
                      settings.where("security.cert_file") + ": " + uri.error().message);
  return Ok{};
}

}  // namespace

IdentityConfig identity_config(const Settings& settings) {
  IdentityConfig c;
  c.trust_domain = settings.trust_domain;
  c.app_namespace = settings.app_namespace;
  c.app_id = settings.app_id;
  c.lifetime = std::chrono::seconds(settings.cert_ttl_ms / 1000);
  if (!settings.ca_address.empty())
    c.source = ca_service_source(settings.ca_address, settings.ca_bundle, settings.join_token,
                                 settings.trust_domain);
  else if (!settings.cert_file.empty())
    c.source = file_source(settings.cert_file, settings.key_file, settings.bundle_file);
  else
    c.source = local_ca_source(
        settings.ca_dir.empty() ? default_ca_dir() : std::filesystem::path(settings.ca_dir),
        settings.trust_domain);
  return c;
}

Result<std::vector<std::string>> check_startup(const Settings& settings) {
  boost::asio::io_context io;
  HostServices host(io);
  auto components = find_configured_components(settings, host.api());
  if (!components) return components.error();
  for (const auto* c : {&components->resolver, &components->transport}) {
    const auto& config =
        c->kind == SKIFF_KIND_RESOLVER ? settings.resolver_config : settings.transport_config;
    if (auto checked = check_component_config(*c, host.api(), config); !checked)
      return checked.error();
  }
  if (components->metrics_exporter)
    if (auto checked = check_component_config(*components->metrics_exporter, host.api(),
                                              metrics_exporter_config(settings));
        !checked)
      return checked.error();
  if (components->span_exporter)
    if (auto checked = check_component_config(*components->span_exporter, host.api(),
                                              span_exporter_config(settings));
        !checked)
      return checked.error();
  if (auto st = check_each(host.api(), components->observers, settings.observers); !st)
    return st.error();
  if (auto st = check_each(host.api(), components->middleware, settings.middleware); !st)
    return st.error();
  if (auto external = ExternalCaller::create(io, settings); !external) return external.error();
  if (auto st = check_identity_source(settings); !st) return st.error();
  if (settings.app_protocol == "grpc" && settings.app_port != 0)
    if (auto module = load_grpc_module(); !module)
      return make_error(module.error().code, "app.protocol = \"grpc\": " + module.error().message);
  std::vector<std::string> warnings;
  for (const auto& f : components->refused) warnings.push_back("plugin refused: " + f.line());
  return warnings;
}

}  // namespace skiff
