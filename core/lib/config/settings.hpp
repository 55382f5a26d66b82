// Settings: the typed configuration of one skiffd, after files, drop-ins and flags are merged.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <map>
#include <optional>
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
  bool operator==(const HttpEndpointConfig&) const = default;
};

// An observer plugin named in [[observers]]: it gets the sidecar's spans (on_span), log records
// (on_log) and, every metrics_interval, a metrics snapshot (on_metrics), whichever it implements.
struct ObserverConfig {
  std::string type;                      // the component type a loaded observer plugin provides
  toml::table config;                    // its own table, handed over as it is
  uint64_t metrics_interval_ms = 60000;  // 0: no snapshots pushed (it may still pull them)
  std::string at;                        // "observers[0]", for messages
};

// A middleware plugin named in [[middleware]]: its hooks run on every call, in this order
// (sdk/include/skiff/middleware.h says where).
struct MiddlewareConfig {
  std::string type;    // the component type a loaded middleware plugin provides
  toml::table config;  // its own table, handed over as it is
  std::string at;      // "middleware[0]", for messages
};

// [access_control], Dapr's model: see docs/security.md for how a call is matched.
struct AccessOperation {
  std::string name;                // "/orders/*", "/pkg.Service/**", ...
  std::vector<std::string> verbs;  // upper case; empty or "*": any
  bool allow = false;
  bool operator==(const AccessOperation&) const = default;
};
struct AccessPolicy {
  std::string app_id, app_namespace = "default", trust_domain;  // trust domain empty: global
  std::optional<bool> default_allow;                            // empty: the global default
  std::vector<AccessOperation> operations;
  bool operator==(const AccessPolicy&) const = default;
};
struct AccessControl {
  bool configured = false;
  std::string where;  // file:line of [access_control], for messages
  bool default_allow = true;
  std::string trust_domain;  // empty: security.trust_domain
  std::vector<AccessPolicy> policies;
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
  std::string app_token;  // sent to the app as dapr-api-token (APP_API_TOKEN)

  // [api]: the app-facing API.
  // Both loopbacks, as daprd: an app whose "localhost" is ::1 reaches its sidecar too.
  std::string listen_addresses = "[::1],127.0.0.1";
  std::string http_address;  // empty: listen_addresses

  int64_t http_port = 3500;
  int64_t grpc_port = 50001;
  std::string grpc_address;  // empty: listen_addresses
  uint64_t max_body_size = 4ull << 20;
  bool streaming = true;
  uint64_t max_header_size = 16ull << 10;
  uint64_t http_idle_timeout_ms = 60000;
  std::string api_token;  // required of the app as dapr-api-token (DAPR_API_TOKEN)

  // [internal]: the sidecar-to-sidecar endpoint.
  std::string internal_address = "127.0.0.1";
  std::string advertise_address;
  int64_t internal_port = 50002;

  // [invoke]: how calls are carried.
  int64_t unavailable_retries = 3;
  uint64_t retry_backoff_ms = 200;

  // [tracing]: W3C trace context.
  double tracing_sampling_rate = 1.0;
  std::string tracing_otlp_endpoint;  // empty: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT

  // [metrics]: counters and histograms, served in Prometheus's format by observer-prometheus.
  bool metrics_enabled = true;
  int64_t metrics_port = 9090;
  std::string metrics_address = "127.0.0.1";

  // [runtime], [log], [plugins]
  int64_t threads = 1;  // see the schema: one loop thread unless the traffic needs more
  std::string log_level = "info";
  bool log_json = false;
  bool api_logging = false;  // one line per call of the app-facing APIs
  std::vector<std::string> plugin_paths;

  // [[http_endpoints]]
  std::vector<HttpEndpointConfig> http_endpoints;
  // [[observers]], [[middleware]]
  std::vector<ObserverConfig> observers;
  std::vector<MiddlewareConfig> middleware;

  // [resolver], [transport]: which plugin component, and its own table.
  std::string resolver_type = "sqlite";
  toml::table resolver_config;
  std::string transport_type = "tcp";
  toml::table transport_config;

  AccessControl access_control;

  // [security]
  bool mtls = true;
  std::string trust_domain = "public";  // Dapr's default trust domain
  std::string ca_dir;                   // empty: default_ca_dir()
  uint64_t cert_ttl_ms = 24ull * 3600 * 1000;
  // The CA service (`skiff ca serve`) instead of the local CA: its address, the roots its
  // certificate chains to, and the join token (SKIFF_JOIN_TOKEN).
  std::string ca_address, ca_bundle, join_token;
  // Or certificates written by other infrastructure, watched and reloaded.
  std::string cert_file, key_file, bundle_file;

  // Where the values came from, for messages: the files read, in order.
  std::vector<std::string> sources;
  // Keys given explicitly by a file or a flag (the rest kept their defaults), each with where it
  // was given: "file:line:column" or the flag. The last one given wins.
  std::map<std::string, std::string, std::less<>> explicit_keys;
  bool is_explicit(std::string_view key) const { return explicit_keys.contains(key); }
  // "skiff.toml:3:8: resolver.type" (or "--flag: key"), the key alone when it was not given.
  std::string where(std::string_view key) const {
    auto it = explicit_keys.find(key);
    return it == explicit_keys.end() ? std::string(key) : it->second + ": " + std::string(key);
  }

  // The listen list of each app-facing API, and the key it comes from (for messages).
  const std::string& http_listen() const {
    return http_address.empty() ? listen_addresses : http_address;
  }
  const std::string& grpc_listen() const {
    return grpc_address.empty() ? listen_addresses : grpc_address;
  }
  std::string_view http_listen_key() const {
    return http_address.empty() ? "api.listen_addresses" : "api.http_address";
  }
  std::string_view grpc_listen_key() const {
    return grpc_address.empty() ? "api.listen_addresses" : "api.grpc_address";
  }

  // The address peers dial: advertise_address, or the listen address unless it is a wildcard.
  std::string effective_advertise_address() const;
};

}  // namespace skiff
