#include "config/schema.hpp"

#include <algorithm>
#include <sstream>

#include "common/units.hpp"

namespace skiff {
namespace {

using S = Settings;

const std::vector<KeySpec>& specs() {
  static const std::vector<KeySpec> kSpecs = {
      {"app.id", KeyKind::kString, &S::app_id, "--app-id",
       "The id of the application this sidecar fronts; other apps call it by this name. Required "
       "unless the sidecar only makes calls."},
      {"app.namespace", KeyKind::kString, &S::app_namespace, "--namespace",
       "Namespace of this app; calls to `id` without `.namespace` stay in it. The `NAMESPACE` "
       "environment variable sets it too."},
      {"app.port", KeyKind::kInt, &S::app_port, "--app-port",
       "Port the application listens on; 0 means there is no app (the sidecar only makes calls).",
       0, 65535},
      {"app.protocol",
       KeyKind::kEnum,
       &S::app_protocol,
       "--app-protocol",
       "Protocol of the app channel: `http` (HTTP/1.1) or `grpc` (h2c; invocations arrive through "
       "AppCallback/OnInvoke, proxied gRPC calls as the app's own methods).",
       0,
       0,
       {"http", "grpc"}},
      {"app.channel_address", KeyKind::kString, &S::app_channel_address, "--app-channel-address",
       "Host or IP address where the application listens."},
      {"app.connect_timeout", KeyKind::kDuration, &S::app_connect_timeout_ms, "",
       "How long the callee sidecar waits to connect to its app before the call fails."},
      {"app.timeout", KeyKind::kDuration, &S::app_timeout_ms, "",
       "How long the callee sidecar waits on its HTTP app: for the answer's head, and for each "
       "piece of a streamed body (a stream that keeps moving is never cut). Past it the call fails "
       "with 504, or a stream already under way is cut off. Also the deadline of OnInvoke calls to "
       "a gRPC app when the caller set none. 0 waits forever."},
      {"app.max_idle_connections", KeyKind::kInt, &S::app_max_idle_connections, "",
       "Keep-alive connections to the app kept open for reuse.", 0, 100000},
      {"app.token", KeyKind::kString, &S::app_token, "",
       "Sent to the app as `dapr-api-token` on every call, so that it can tell its sidecar from "
       "anyone else; the environment variable `APP_API_TOKEN` sets it too, as with daprd."},
      {"api.listen_addresses", KeyKind::kString, &S::listen_addresses, "--dapr-listen-addresses",
       "Addresses the app-facing HTTP and gRPC APIs listen on, comma-separated (IPv6 in brackets "
       "or bare). The default is both loopbacks, as daprd's: an app whose `localhost` is ::1 "
       "reaches its sidecar too; where the machine has no IPv6 loopback, 127.0.0.1 alone (with a "
       "warning). An address given explicitly must bind."},
      {"api.http_address", KeyKind::kString, &S::http_address, "",
       "Addresses of the HTTP API alone, in the same form; empty means `api.listen_addresses`."},
      {"api.http_port", KeyKind::kInt, &S::http_port, "--dapr-http-port",
       "Port of the app-facing HTTP API (Dapr-compatible).", 0, 65535},
      {"api.grpc_port", KeyKind::kInt, &S::grpc_port, "--dapr-grpc-port",
       "Port of the app-facing gRPC API (Dapr-compatible InvokeService, GetMetadata and proxy "
       "mode); 0 picks a free port.",
       0, 65535},
      {"api.grpc_address", KeyKind::kString, &S::grpc_address, "",
       "Addresses of the gRPC API alone, in the same form; empty means `api.listen_addresses`."},
      {"api.max_body_size", KeyKind::kSize, &S::max_body_size, "--max-body-size",
       "Largest body that is buffered: request bodies of known length up to this size are read "
       "whole (and can be retried on another instance); larger or chunked bodies stream. Also the "
       "largest gRPC message of InvokeService. With `api.streaming = false`, larger requests get "
       "413."},
      {"api.streaming", KeyKind::kBool, &S::streaming, "",
       "Stream request bodies larger than `api.max_body_size` or of unknown length (chunked) "
       "instead of refusing them with 413."},
      {"api.max_header_size", KeyKind::kSize, &S::max_header_size, "--max-header-size",
       "Largest request line plus headers the HTTP API accepts; larger requests get 431."},
      {"api.token", KeyKind::kString, &S::api_token, "",
       "When set, every call to the HTTP and gRPC APIs must carry it as `dapr-api-token` (else "
       "401 / UNAUTHENTICATED); `/v1.0/healthz` is exempt. The environment variable "
       "`DAPR_API_TOKEN` sets it too, as with daprd. The header is never forwarded."},
      {"api.idle_timeout", KeyKind::kDuration, &S::http_idle_timeout_ms, "",
       "An idle keep-alive connection from an app is closed after this long."},
      {"internal.address", KeyKind::kString, &S::internal_address, "",
       "Address the sidecar-to-sidecar endpoint listens on."},
      {"internal.advertise_address", KeyKind::kString, &S::advertise_address, "",
       "Address other sidecars dial to reach this one; empty means `internal.address`, or "
       "127.0.0.1 when that is a wildcard."},
      {"internal.port", KeyKind::kInt, &S::internal_port, "--dapr-internal-grpc-port",
       "Port of the sidecar-to-sidecar endpoint. When it is left at its default and that port is "
       "taken (another sidecar on this machine), a free port is used instead; peers learn it from "
       "the resolver. 0 always picks a free port.",
       0, 65535},
      {"invoke.unavailable_retries", KeyKind::kInt, &S::unavailable_retries, "",
       "Retries, on another instance when there is one, when the target sidecar cannot be "
       "reached; the request has then not been delivered, so retrying is safe.",
       0, 100},
      {"invoke.retry_backoff", KeyKind::kDuration, &S::retry_backoff_ms, "",
       "Pause before retrying the same instance (no pause when another instance is tried)."},
      {"tracing.sampling_rate", KeyKind::kFloat, &S::tracing_sampling_rate, "",
       "Share of new traces marked sampled in the W3C traceparent a caller's sidecar creates when "
       "the app sent none (or an invalid one): 1 marks all, 0 none. A trace that arrives with a "
       "traceparent keeps the caller's decision. Dapr's configuration defaults to 0.0001 (its "
       "`dapr init` writes 1); 1 keeps callee apps that sample by their parent recording as they "
       "would without a sidecar. `OTEL_TRACES_SAMPLER` (`always_on`, `always_off`, "
       "`traceidratio` with `OTEL_TRACES_SAMPLER_ARG`, and their `parentbased_` forms) sets it as "
       "for an OpenTelemetry SDK; the configuration wins over the variable.",
       0, 1},
      {"tracing.otlp_endpoint", KeyKind::kString, &S::tracing_otlp_endpoint, "",
       "Where the observer-otlp plugin sends the sidecar's spans (OTLP/HTTP protobuf), e.g. "
       "`http://127.0.0.1:4318` (`/v1/traces` is added). Empty: the standard "
       "`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as it is) or `OTEL_EXPORTER_OTLP_ENDPOINT`; "
       "with "
       "neither, no spans are recorded. `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true` "
       "turn export off. See docs/observability.md."},
      {"metrics.enabled", KeyKind::kBool, &S::metrics_enabled, "--enable-metrics",
       "Keep Dapr's service-invocation and HTTP metrics and serve them in Prometheus's text "
       "format at `http://<metrics.address>:<metrics.port>/metrics` (the observer-prometheus "
       "plugin). See docs/observability.md."},
      {"metrics.port", KeyKind::kInt, &S::metrics_port, "--metrics-port",
       "Port of the Prometheus exposition. When it is left at its default and that port is taken "
       "(another sidecar on this machine), metrics are kept but not served, with a warning; a "
       "port given explicitly that cannot be bound stops start-up.",
       1, 65535},
      {"metrics.address", KeyKind::kString, &S::metrics_address, "--metrics-listen-address",
       "Address the Prometheus exposition listens on: loopback by default, so that only this "
       "machine reads it; `0.0.0.0` or `::` for a Prometheus elsewhere."},
      {"runtime.threads", KeyKind::kInt, &S::threads, "",
       "Event-loop threads; 0 means one per CPU core. One thread carries about 10k calls/s and "
       "wakes no other thread per call; add threads only for more traffic than that.",
       0, 1024},
      {"log.level",
       KeyKind::kEnum,
       &S::log_level,
       "--log-level",
       "Lowest level that is logged.",
       0,
       0,
       {"debug", "info", "warn", "error", "fatal"}},
      {"log.json", KeyKind::kBool, &S::log_json, "--log-as-json",
       "Write logs as JSON lines instead of plain text."},
      {"log.api_calls", KeyKind::kBool, &S::api_logging, "--enable-api-logging",
       "Log every call of the app-facing HTTP and gRPC APIs at info level, as daprd's "
       "`--enable-api-logging` does: `HTTP API Called` / `gRPC API Called` with `method`, "
       "`code`, `duration` (ms), `useragent`, and skiff's `trace_id` and `target_app_id` (fields "
       "of the JSON line with `log.json`)."},
      {"plugins.paths", KeyKind::kStringList, &S::plugin_paths, "--plugin-path",
       "Directories searched for plugins first; then `SKIFF_PLUGIN_PATH` (colon-separated), then "
       "the install directory."},
      {"resolver.type", KeyKind::kString, &S::resolver_type, "",
       "Name-resolution component to use (a type name a loaded plugin provides)."},
      {"resolver.config", KeyKind::kPluginTable, &S::resolver_config, "",
       "The resolver's own table, handed to the plugin as it is (see the plugin's section)."},
      {"transport.type", KeyKind::kString, &S::transport_type, "",
       "Sidecar-to-sidecar transport component: `tcp` (framed TCP on the event loop) or `grpc`; "
       "both sidecars of a call must use the same."},
      {"transport.config", KeyKind::kPluginTable, &S::transport_config, "",
       "The transport's own table, handed to the plugin as it is."},
      {"security.mtls", KeyKind::kBool, &S::mtls, "",
       "Mutual TLS 1.3 between sidecars with X.509-SVID workload certificates. Off only when "
       "set to false explicitly: sidecars then talk plaintext and a callee trusts what a caller "
       "claims (logged as a warning). See docs/security.md."},
      {"security.trust_domain", KeyKind::kString, &S::trust_domain, "",
       "SPIFFE trust domain of this sidecar's identity (spiffe://<trust-domain>/ns/<namespace>/"
       "<app-id>); peers of another trust domain are refused."},
      {"security.ca_dir", KeyKind::kString, &S::ca_dir, "",
       "Directory of the local CA that signs the workload certificates (created on first use, "
       "owner-only); empty means `ca` beside the SQLite resolver's file in the state directory."},
      {"security.cert_ttl", KeyKind::kDuration, &S::cert_ttl_ms, "",
       "Lifetime of a workload certificate; it is renewed at about half of it (the CA service "
       "may cut it shorter)."},
      {"security.ca_address", KeyKind::kString, &S::ca_address, "",
       "host:port of the CA service (`skiff ca serve`) that signs this sidecar's certificate "
       "requests; empty means the local CA. Needs `security.ca_bundle` and a join token."},
      {"security.ca_bundle", KeyKind::kString, &S::ca_bundle, "",
       "PEM file of the roots the CA service's certificate must chain to (the CA directory's "
       "bundle.crt); read again at every renewal."},
      {"security.join_token", KeyKind::kString, &S::join_token, "",
       "Join token from `skiff ca token create`, sent with every certificate request; the "
       "environment variable `SKIFF_JOIN_TOKEN` sets it too."},
      {"security.cert_file", KeyKind::kString, &S::cert_file, "",
       "PEM certificate chain (leaf first) written by other infrastructure (cert-manager, SPIRE, "
       "Vault agent) instead of a CA: watched, and a changed, complete set is loaded. Needs "
       "`security.key_file` and `security.bundle_file`."},
      {"security.key_file", KeyKind::kString, &S::key_file, "",
       "PEM private key of `security.cert_file`'s leaf."},
      {"security.bundle_file", KeyKind::kString, &S::bundle_file, "",
       "PEM trust bundle (one or more roots) peers are verified against, with "
       "`security.cert_file`."},
  };
  return kSpecs;
}

std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

}  // namespace

std::span<const KeySpec> config_schema() {
  return specs();
}

bool is_reloadable(std::string_view key) {
  // Each is read from the live settings once per call (config/live_settings.hpp); the resolver
  // is replaced whole (runtime/reload.hpp).
  static constexpr std::string_view kReloadable[] = {"app.token",
                                                     "resolver.type",
                                                     "resolver.config",
                                                     "api.token",
                                                     "invoke.unavailable_retries",
                                                     "invoke.retry_backoff",
                                                     "tracing.sampling_rate",
                                                     "log.level",
                                                     "log.api_calls"};
  return std::find(std::begin(kReloadable), std::end(kReloadable), key) != std::end(kReloadable);
}

const KeySpec* find_key(std::string_view key) {
  for (const auto& s : specs())
    if (s.key == key) return &s;
  return nullptr;
}

std::string_view kind_name(KeyKind kind) {
  switch (kind) {
    case KeyKind::kString:
      return "string";
    case KeyKind::kEnum:
      return "string (one of)";
    case KeyKind::kInt:
      return "integer";
    case KeyKind::kFloat:
      return "number";
    case KeyKind::kBool:
      return "boolean";
    case KeyKind::kSize:
      return "size";
    case KeyKind::kDuration:
      return "duration";
    case KeyKind::kStringList:
      return "array of strings";
    case KeyKind::kPluginTable:
      return "table";
  }
  return "?";
}

std::string default_text(const KeySpec& spec) {
  static const Settings defaults;
  return std::visit(
      [&](auto member) -> std::string {
        const auto& v = defaults.*member;
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::string>) {
          return quote(v);
        } else if constexpr (std::is_same_v<V, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<V, int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<V, double>) {
          std::ostringstream text;
          text << v;
          return text.str();
        } else if constexpr (std::is_same_v<V, uint64_t>) {
          return spec.kind == KeyKind::kSize ? quote(format_size(v)) : quote(format_duration_ms(v));
        } else if constexpr (std::is_same_v<V, std::vector<std::string>>) {
          return "[]";
        } else {
          return "{}";
        }
      },
      spec.field);
}

std::string render_configuration_reference() {
  std::ostringstream out;
  out << "| key | type | default | flag | meaning |\n|---|---|---|---|---|\n";
  for (const auto& s : specs()) {
    std::string type(kind_name(s.kind));
    if (s.kind == KeyKind::kEnum) {
      type = "string: ";
      for (size_t i = 0; i < s.choices.size(); ++i) type += (i ? ", " : "") + quote(s.choices[i]);
    } else if (s.kind == KeyKind::kInt || s.kind == KeyKind::kFloat) {
      type += " " + std::to_string(s.min) + "–" + std::to_string(s.max);
    }
    out << "| `" << s.key << "` | " << type << " | `" << default_text(s) << "` | "
        << (s.flag.empty() ? "" : "`" + std::string(s.flag) + "`") << " | " << s.doc
        << (is_reloadable(s.key) ? " A reload applies a new value." : "") << " |\n";
  }
  return out.str();
}

}  // namespace skiff
