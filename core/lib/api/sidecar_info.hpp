// What the metadata endpoints (HTTP /v1.0/metadata, gRPC Dapr/GetMetadata) report about this
// sidecar beyond its settings: the plugin components it runs and its named HTTP endpoints.
#pragma once

#include <string>
#include <vector>

namespace skiff {

struct SidecarInfo {
  struct Component {
    std::string name;     // the plugin's name, e.g. "resolver-sqlite"
    std::string type;     // kind.type, e.g. "resolver.sqlite"
    std::string version;  // the plugin's version
  };
  std::vector<Component> components;
  std::vector<std::string> http_endpoints;
};

}  // namespace skiff
