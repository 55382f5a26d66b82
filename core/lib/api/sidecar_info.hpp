// What the metadata endpoints (HTTP /v1.0/metadata, gRPC Dapr/GetMetadata) report about this
// sidecar beyond its settings: the plugin components it runs and its workload identity (the named
// HTTP endpoints come from the live settings and the resolver from the Caller, both of which a
// reload changes).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "invoke/caller.hpp"
#include "security/workload_tls.hpp"

namespace skiff {

struct SidecarInfo {
  struct Component {
    std::string name;     // the plugin's name, e.g. "resolver-sqlite"
    std::string type;     // kind.type, e.g. "resolver.sqlite"
    std::string version;  // the plugin's version
  };
  // All but the resolver: the transport, then the middleware.
  std::vector<Component> components;
  // This sidecar's certificate (mTLS), or null with mTLS off.
  std::shared_ptr<const WorkloadTls> workload_tls;
};

// What metadata lists: the resolver `caller` uses now, then the others.
inline std::vector<SidecarInfo::Component> components_now(const SidecarInfo& info,
                                                          const Caller& caller) {
  const auto& resolver = caller.resolver()->component();
  std::vector<SidecarInfo::Component> out{
      {resolver.plugin_name, "resolver." + resolver.type_name, resolver.plugin_version}};
  out.insert(out.end(), info.components.begin(), info.components.end());
  return out;
}

}  // namespace skiff
