// Settings: the typed configuration of one skiffd, after files, drop-ins and flags are merged.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace skiff {

// A named HTTP endpoint without a sidecar ([[http_endpoints]]), called directly by this sidecar.
struct HttpEndpointConfig {
  std::string name;
  std::string base_url;  // http:// or https://, optionally with a path
  std::vector<std::pair<std::string, std::string>> headers;  // set on every request
  std::string ca_file;    // PEM CAs to verify the server; empty: the system trust store
  std::string cert_file;  // PEM client certificate (chain), with key_file
  std::string key_file;
};

struct Settings {
  // [app]: the application this sidecar fronts.
  std::string app_id;
  std::string app_namespace = "default";
  int64_t app_port = 0;
  std::string app_protocol = "http";
  std::string app_channel_address = "127.0.0.1";
  uint64_t app_connect_timeout_ms = 3000;
  uint64_t app_timeout_ms = 60000;
  int64_t app_max_idle_connections = 64;

  // [api]: the app-facing API.
  std::string http_address = "127.0.0.1";
  int64_t http_port = 3500;
  int64_t grpc_port = 50001;
  std::string grpc_address = "127.0.0.1";
  uint64_t max_body_size = 4ull << 20;
  bool streaming = true;
  uint64_t max_header_size = 16ull << 10;
  uint64_t http_idle_timeout_ms = 60000;

  // [internal]: the sidecar-to-sidecar endpoint.
  std::string internal_address = "127.0.0.1";
  std::string advertise_address;
  int64_t internal_port = 50002;

  // [invoke]: how calls are carried.
  int64_t unavailable_retries = 3;
  uint64_t retry_backoff_ms = 200;

  // [runtime], [log], [plugins]
  int64_t threads = 1;  // see the schema: one loop thread unless the traffic needs more
  std::string log_level = "info";
  bool log_json = false;
  std::vector<std::string> plugin_paths;

  // [[http_endpoints]]
  std::vector<HttpEndpointConfig> http_endpoints;

  // [resolver], [transport]: which plugin component, and its own table.
  std::string resolver_type = "sqlite";
  toml::table resolver_config;
  std::string transport_type = "tcp";
  toml::table transport_config;

  // Where the values came from, for messages: the files read, in order.
  std::vector<std::string> sources;
  // Keys given explicitly by a file or a flag (the rest kept their defaults).
  std::set<std::string, std::less<>> explicit_keys;
  bool is_explicit(std::string_view key) const { return explicit_keys.contains(key); }

  // The address peers dial: advertise_address, or the listen address unless it is a wildcard.
  std::string effective_advertise_address() const;
};

}  // namespace skiff
