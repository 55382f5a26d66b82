#include "api/router.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

#include "api/http_invocation.hpp"
#include "common/api_token.hpp"
#include "common/json_text.hpp"
#include "telemetry/access_log.hpp"

namespace skiff {

namespace asio = boost::asio;

namespace {

Response no_content() {
  Response res{http::status::no_content, 11};
  return res;
}

// Routes of Dapr's API beyond service invocation (state, pub/sub, actors, ...): answered with
// 501 rather than taken for a dapr-app-id invocation or a missing app id.
bool other_dapr_api(std::string_view path) {
  static constexpr std::string_view kVersions[] = {"/v1.0/", "/v1.0-alpha1/", "/v1.0-alpha2/",
                                                   "/v1.0-beta1/", "/v1.0-rc1/"};
  static constexpr std::string_view kApis[] = {
      "state", "publish",      "bindings", "actors",    "secrets",   "configuration",
      "lock",  "unlock",       "crypto",   "workflows", "subscribe", "shutdown",
      "jobs",  "conversation", "outbox",   "scheduler"};
  for (auto v : kVersions) {
    if (!path.starts_with(v)) continue;
    auto rest = path.substr(v.size());
    auto api = rest.substr(0, rest.find('/'));
    for (auto a : kApis)
      if (api == a) return true;
  }
  return false;
}

Response target_error(const Error& e) {
  unsigned status = e.code == SKIFF_ERR_NOT_FOUND ? 404 : 400;
  return dapr_error(status, "ERR_DIRECT_INVOKE", e.message);
}

// The path label of a request: its route's template, so that the paths callers choose (app
// methods, unknown routes) never become label values.
std::string_view route_label(std::string_view path, const http::request_header<>& req) {
  for (std::string_view fixed : {"/v1.0/healthz", "/v1.0/healthz/outbound", "/v1.0/metadata"})
    if (path == fixed) return fixed;  // the literal: the request may change while it is used
  if (path.starts_with(kInvokePrefix)) return "/v1.0/invoke/{id}/method/{method}";
  if (req.find("dapr-app-id") != req.end()) return "/{method}";
  return "{other}";
}

// HTTP's own methods keep their names; any other token counts as _OTHER (as OpenTelemetry's
// conventions do), for the same reason.
std::string_view method_label(const http::request_header<>& req) {
  return req.method() == http::verb::unknown ? std::string_view("_OTHER") : req.method_string();
}

}  // namespace

asio::awaitable<void> Router::handle(HttpExchange& exchange) {
  // One snapshot for the request: a reload while it runs does not change it half-way.
  const auto now = settings_now(live_, settings_);
  if (!metrics_ && !recording_spans() && !now->api_logging)
    co_return co_await route(exchange, *now);
  auto& context = exchange.context();
  auto& req = exchange.header();
  // Copied: routing edits the request's headers.
  const std::string method(method_label(req));
  std::string_view target = req.target();
  const std::string_view path_label = route_label(target.substr(0, target.find('?')), req);
  // Copied before routing, which may rewrite the request: "POST /v1.0/invoke/cart/method/x".
  const std::string logged = now->api_logging ? std::string(req.method_string()) + " " +
                                                    std::string(target.substr(0, target.find('?')))
                                              : std::string();
  if (metrics_) metrics_->http_request_started(method, path_label);
  co_await route(exchange, *now);
  // What the app was answered, whoever answered it (the target, a middleware, this sidecar).
  context.http_status = static_cast<int>(exchange.status_sent());
  if (metrics_)
    metrics_->http_request_done(method, path_label, exchange.status_sent(), context.started);
  if (recording_spans() && context.trace.recording && context.trace.has_server_span)
    record_server_span(context, method, path_label);
  if (now->api_logging) log_call(exchange, logged, now->log_json);
}

void Router::log_call(HttpExchange& exchange, std::string_view method, bool json) const {
  const auto& req = exchange.header();
  const auto& context = exchange.context();
  const std::string trace_id = context.trace_id_hex();
  const std::string code = std::to_string(context.http_status);
  log_api_call({.protocol = "HTTP",
                .method = method,
                .code = code,
                .duration_ms = elapsed_ms(context.started),
                .user_agent = req[http::field::user_agent],
                .trace_id = trace_id,
                .target_app_id = context.target_app_id},
               json);
}

void Router::record_server_span(const CallContext& context, std::string_view method,
                                std::string_view route) const {
  const auto& trace = context.trace;
  const auto status = static_cast<unsigned>(context.http_status);
  const std::string status_text = std::to_string(status);
  const std::string name = std::string(method) + " " + std::string(route);
  // OpenTelemetry's HTTP conventions: a server span is an error for 5xx only.
  spans_->emit({.trace = trace,
                .id = trace.server_span,
                .parent = trace.has_parent ? &trace.parent : nullptr,
                .name = name,
                .kind = SKIFF_SPAN_SERVER,
                .start_unix_nanos = context.started_unix_nanos(),
                .end_unix_nanos = unix_nanos(),
                .status = status >= 500 || status == 0 ? SKIFF_ERR_UNKNOWN : SKIFF_OK,
                .status_message = {},
                .attributes = {{"http.request.method", method},
                               {"http.route", route},
                               {"http.response.status_code", status_text},
                               {"skiff.app_id", settings_.app_id}}});
}

Router::Router(const Settings& settings, Caller& caller, std::shared_ptr<ExternalCaller> external,
               const SidecarInfo& info)
    : settings_(settings), caller_(caller), external_(std::move(external)), info_(info) {}

Response Router::metadata(const Settings& now) const {
  auto components = nlohmann::json::array();
  for (const auto& c : components_now(info_, caller_))
    components.push_back({{"name", c.name}, {"type", c.type}, {"version", c.version}});
  auto endpoints = nlohmann::json::array();
  for (const auto& e : now.http_endpoints) endpoints.push_back({{"name", e.name}});
  nlohmann::json body = {
      {"id", settings_.app_id},
      {"runtimeVersion", "skiff-" SKIFF_VERSION},
      {"enabledFeatures", nlohmann::json::array()},
      {"actorRuntime", {{"runtimeStatus", "DISABLED"}}},
      {"components", components},
      {"httpEndpoints", endpoints},
      {"extended", {{"namespace", settings_.app_namespace}}},
      {"appConnectionProperties",
       {{"port", settings_.app_port},
        {"protocol", settings_.app_protocol},
        {"channelAddress", settings_.app_channel_address}}},
  };
  if (info_.workload_tls) {
    auto presented = info_.workload_tls->presented();
    auto rfc3339 = [](std::chrono::system_clock::time_point t) {
      std::time_t tt = std::chrono::system_clock::to_time_t(t);
      std::tm tm{};
      gmtime_r(&tt, &tm);
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
      return std::string(buf);
    };
    body["identity"] = {{"spiffeId", presented.identity},
                        {"expiry", rfc3339(presented.not_after)},
                        {"tlsHandshakes", info_.workload_tls->handshakes()}};
    // Certificates from watched files are renewed by whoever writes them, not by this sidecar.
    if (presented.renew_at != std::chrono::system_clock::time_point{})
      body["identity"]["renewal"] = rfc3339(presented.renew_at);
  }
  Response res{http::status::ok, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = json_text(body);
  return res;
}

asio::awaitable<void> Router::route(HttpExchange& exchange, const Settings& now) {
  auto& req = exchange.header();
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));

  Response res;
  const bool health = path == "/v1.0/healthz" || path == "/v1.0/healthz/outbound";
  if (!health && !now.api_token.empty() &&
      !api_token_matches(now.api_token, req[kApiTokenHeader])) {
    // Dapr answers a plain text 401.
    res = Response{http::status::unauthorized, 11};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "invalid api token";
    res.prepare_payload();
    co_await exchange.send(res);
    co_return;
  }
  req.erase(kApiTokenHeader);  // meant for this sidecar: never forwarded
  if (health) {
    res = no_content();
  } else if (path == "/v1.0/metadata" && req.method() == http::verb::get) {
    res = metadata(now);
  } else {
    Result<InvokeTarget> parsed =
        make_error(SKIFF_ERR_NOT_FOUND,
                   "failed getting app id either from the URL path or the header dapr-app-id");
    if (path.starts_with(kInvokePrefix)) {
      parsed = target_from_url(target, settings_.app_namespace);
    } else if (auto id = req["dapr-app-id"]; !id.empty()) {
      parsed = target_from_header(id, target, settings_.app_namespace);
    } else if (auto basic = app_id_from_basic_auth(req[http::field::authorization])) {
      parsed = target_from_header(*basic, target, settings_.app_namespace);
      req.erase(http::field::authorization);
    }
    // Held to the end of the call: a reload may replace it meanwhile.
    const std::shared_ptr<ExternalCaller> external = external_.load(std::memory_order_acquire);
    if (parsed && parsed->is_url) {
      auto endpoint = external->from_url(parsed->app_id);
      if (endpoint) {
        co_await external->invoke(*endpoint, parsed->method, parsed->query, exchange,
                                  now.tracing_sampling_rate, recording_spans());
        co_return;
      }
      parsed = endpoint.error();
    } else if (parsed) {
      // As with Dapr, a named HTTP endpoint wins over an app of the same name.
      if (const auto* endpoint = external->find(parsed->app_id)) {
        co_await external->invoke(*endpoint, parsed->method, parsed->query, exchange,
                                  now.tracing_sampling_rate, recording_spans());
        co_return;
      }
      co_await invoke_over_http(caller_, *parsed, exchange);
      co_return;
    }
    if (other_dapr_api(path))
      res = dapr_error(501, "ERR_API_UNIMPLEMENTED",
                       std::string(req.method_string()) + " " + std::string(path) +
                           ": skiff implements Dapr's service invocation API only");
    else
      res = target_error(parsed.error());
  }
  co_await exchange.send(res);
}

}  // namespace skiff
