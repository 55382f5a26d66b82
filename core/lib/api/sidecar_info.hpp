// What the metadata endpoints (HTTP /v1.0/metadata, gRPC Dapr/GetMetadata) report about this
// sidecar beyond its settings: the plugin components it runs and its workload identity (the named
// HTTP endpoints come from the live settings, which a reload changes).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "security/workload_tls.hpp"

namespace skiff {

struct SidecarInfo {
  struct Component {
    std::string name;     // the plugin's name, e.g. "resolver-sqlite"
    std::string type;     // kind.type, e.g. "resolver.sqlite"
    std::string version;  // the plugin's version
  };
  std::vector<Component> components;
  // This sidecar's certificate (mTLS), or null with mTLS off.
  std::shared_ptr<const WorkloadTls> workload_tls;
};

}  // namespace skiff
