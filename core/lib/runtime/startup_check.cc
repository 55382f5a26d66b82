#include "runtime/startup_check.hpp"

#include <boost/asio/io_context.hpp>

#include "api/grpc_module.hpp"
#include "invoke/external.hpp"
#include "plugin/components.hpp"
#include "plugin/host_services.hpp"
#include "security/local_ca.hpp"

namespace skiff {

Result<ConfiguredComponents> find_configured_components(const Settings& settings,
                                                        const skiff_host_api_t* host) {
  auto catalog = PluginCatalog::load_wanted(plugin_search_path(settings.plugin_paths), host,
                                            {{SKIFF_KIND_RESOLVER, settings.resolver_type},
                                             {SKIFF_KIND_TRANSPORT, settings.transport_type}});
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
  return ConfiguredComponents{*resolver, *transport, catalog.failures()};
}

IdentityConfig identity_config(const Settings& settings) {
  IdentityConfig c;
  c.trust_domain = settings.trust_domain;
  c.app_namespace = settings.app_namespace;
  c.app_id = settings.app_id;
  c.ca_dir = settings.ca_dir.empty() ? default_ca_dir() : std::filesystem::path(settings.ca_dir);
  c.lifetime = std::chrono::seconds(settings.cert_ttl_ms / 1000);
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
  if (auto external = ExternalCaller::create(io, settings); !external) return external.error();
  if (settings.app_protocol == "grpc" && settings.app_port != 0)
    if (auto module = load_grpc_module(); !module)
      return make_error(module.error().code, "app.protocol = \"grpc\": " + module.error().message);
  std::vector<std::string> warnings;
  for (const auto& f : components->refused) warnings.push_back("plugin refused: " + f.line());
  return warnings;
}

}  // namespace skiff
