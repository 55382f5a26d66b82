// resolver-consul: registers the sidecar with the local Consul agent (with an HTTP health check on
// skiffd's /v1.0/healthz), deregisters it on shutdown, and resolves apps to their passing
// instances. Each app that is called gets one watcher thread running Consul blocking queries, so
// the instance list changes as soon as Consul's does without a query per call.
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "consul_answer.hpp"
#include "consul_client.hpp"
#include "instance_cache.hpp"
#include "resolver_abi.hpp"
#include "skiff/plugin.hpp"

namespace {

using skiff::consul::Abort;
using skiff::consul::ConsulClient;
using skiff::consul::HttpResult;
using skiff::plugins::InstanceCache;
using skiff::sdk::str;
using skiff::sdk::view;
using std::chrono::milliseconds;
using json = nlohmann::json;
namespace http = boost::beast::http;

struct Config {
  std::string host = "127.0.0.1", port = "8500";
  std::string token;
  std::string datacenter;
  bool self_register = true;
  bool self_deregister = true;
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> meta;
  std::string port_meta_key = "SKIFF_PORT";
  std::string namespace_meta_key = "SKIFF_NAMESPACE";
  uint64_t check_interval_ms = 5000;
  uint64_t check_timeout_ms = 2000;
  uint64_t deregister_critical_after_ms = 60000;
  uint64_t watch_wait_ms = 30000;
  uint64_t request_timeout_ms = 5000;
  uint64_t retry_interval_ms = 1000;
  uint64_t registration_check_interval_ms = 10000;
};

std::string go_duration(uint64_t ms) {
  return std::to_string(ms) + "ms";
}

std::string url_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

class ConsulResolver {
 public:
  ConsulResolver(const skiff_host_api_t* host, Config cfg)
      : host_(host),
        cfg_(std::move(cfg)),
        client_(cfg_.host, cfg_.port, cfg_.token),
        cache_(host, milliseconds(30000)) {}

  ~ConsulResolver() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      for (auto& [key, w] : watchers_) w->abort.abort();
      session_abort_.abort();
    }
    cv_.notify_all();
    if (deregister_thread_.joinable()) deregister_thread_.join();
    if (session_thread_.joinable()) session_thread_.join();
    for (auto& [key, w] : watchers_)
      if (w->thread.joinable()) w->thread.join();
  }

  void register_self(const skiff_registration_t* self, skiff_done_fn done, void* ud) {
    if (!cfg_.self_register) return done(ud, SKIFF_OK, str(""));
    std::string app(view(self->app_id)), ns(view(self->app_namespace)), addr(view(self->host));
    service_id_ = app + "-" + addr + "-" + std::to_string(self->internal_port);
    json meta = json::object();
    for (const auto& [k, v] : cfg_.meta) meta[k] = v;
    meta[cfg_.port_meta_key] = std::to_string(self->internal_port);
    meta[cfg_.namespace_meta_key] = ns;
    std::string health_host = addr == "0.0.0.0" || addr == "::" ? "127.0.0.1" : addr;
    if (health_host.find(':') != std::string::npos) health_host = "[" + health_host + "]";
    json body = {
        {"ID", service_id_},
        {"Name", app},
        {"Address", addr},
        {"Port", self->internal_port},
        {"Tags", cfg_.tags},
        {"Meta", meta},
        {"Check",
         {{"Name", "skiffd health"},
          {"HTTP",
           "http://" + health_host + ":" + std::to_string(self->http_port) + "/v1.0/healthz"},
          {"Interval", go_duration(cfg_.check_interval_ms)},
          {"Timeout", go_duration(cfg_.check_timeout_ms)},
          {"DeregisterCriticalServiceAfter", go_duration(cfg_.deregister_critical_after_ms)}}}};
    registration_ = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    session_thread_ = std::thread([this, done, ud] { session_loop(done, ud); });
  }

  void deregister_self(skiff_done_fn done, void* ud) {
    deregister_thread_ = std::thread([this, done, ud] {
      {
        std::lock_guard lock(mu_);
        deregistering_ = true;
        session_abort_.abort();
      }
      cv_.notify_all();
      if (session_thread_.joinable()) session_thread_.join();
      if (service_id_.empty() || !cfg_.self_deregister) return done(ud, SKIFF_OK, str(""));
      auto r = client_.request(http::verb::put,
                               "/v1/agent/service/deregister/" + url_escape(service_id_), "",
                               milliseconds(cfg_.request_timeout_ms));
      if (r.status != 200) {
        std::string why = r.status ? "HTTP " + std::to_string(r.status) + ": " + r.body : r.error;
        return done(ud, SKIFF_ERR_UNAVAILABLE, str("Consul deregistration failed: " + why));
      }
      log(SKIFF_LOG_INFO, "deregistered " + service_id_ + " from Consul at " + client_.address());
      done(ud, SKIFF_OK, str(""));
    });
  }

  void resolve(const skiff_resolve_request_t* req, skiff_resolve_done_fn done, void* ud) {
    std::string_view ns = view(req->app_namespace), app = view(req->app_id);
    if (cache_.try_complete(ns, app, done, ud)) return;
    ensure_watcher(ns, app);
    // The watcher's first query answers within the request timeout, instance or not.
    cache_.resolve_or_wait(ns, app, milliseconds(cfg_.request_timeout_ms),
                           "no passing instance of " + std::string(app) + " in namespace " +
                               std::string(ns) + " in Consul",
                           done, ud);
  }

  void report_unavailable(std::string_view app, std::string_view ns, std::string_view address) {
    cache_.report_unavailable(ns, app, address);
  }

 private:
  struct Watcher {
    std::string ns, app;
    Abort abort;
    std::thread thread;
  };

  void log(int32_t level, const std::string& msg) const {
    host_->log(host_->host, level, str("resolver-consul"), str(msg));
  }

  bool pause(milliseconds d, bool session = false) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [&] { return stop_ || (session && deregistering_); });
    return !(stop_ || (session && deregistering_));
  }

  static std::string describe(const HttpResult& r) {
    return r.status ? "HTTP " + std::to_string(r.status) + ": " + r.body : r.error;
  }

  std::string dc_param() const {
    return cfg_.datacenter.empty() ? "" : "&dc=" + url_escape(cfg_.datacenter);
  }

  // ---- registration: first attempt reported at start-up, then kept present ----

  void session_loop(skiff_done_fn done, void* ud) {
    bool reported = false, registered = false;
    const auto timeout = milliseconds(cfg_.request_timeout_ms);
    while (true) {
      if (registered) {
        // A restarted agent may have lost us: look, and register again if so.
        auto r = client_.request(http::verb::get, "/v1/agent/service/" + url_escape(service_id_),
                                 "", timeout, &session_abort_);
        if (r.status == 200) {
          if (!pause(milliseconds(cfg_.registration_check_interval_ms), true)) return;
          continue;
        }
        if (r.status != 404) {
          log(SKIFF_LOG_WARN, "cannot verify the Consul registration: " + describe(r));
          if (!pause(milliseconds(cfg_.retry_interval_ms), true)) return;
          continue;
        }
        log(SKIFF_LOG_WARN,
            "Consul at " + client_.address() + " lost " + service_id_ + "; registering again");
      }
      auto r = client_.request(http::verb::put, "/v1/agent/service/register", registration_,
                               timeout, &session_abort_);
      registered = r.status == 200;
      if (registered)
        log(SKIFF_LOG_INFO, "registered " + service_id_ + " with Consul at " + client_.address());
      else if (!reported || r.status)
        log(SKIFF_LOG_ERROR, "Consul registration of " + service_id_ + " failed: " + describe(r) +
                                 "; not registered yet, retrying every " +
                                 std::to_string(cfg_.retry_interval_ms) + "ms");
      if (!reported) {
        reported = true;
        // A refusal (bad token, bad request) will not fix itself: fail start-up with it.
        if (r.status >= 400 && r.status < 500) {
          done(ud, SKIFF_ERR_PERMISSION_DENIED, str("Consul registration refused: " + describe(r)));
          return;
        }
        done(ud, SKIFF_OK, str(""));
      }
      if (!pause(milliseconds(registered ? cfg_.registration_check_interval_ms
                                         : cfg_.retry_interval_ms),
                 true))
        return;
    }
  }

  // ---- lookups: one blocking-query watcher per (namespace, app) ----

  void ensure_watcher(std::string_view ns, std::string_view app) {
    std::string key = InstanceCache::key(ns, app);
    std::lock_guard lock(mu_);
    if (stop_ || watchers_.contains(key)) return;
    auto w = std::make_unique<Watcher>();
    w->ns = ns;
    w->app = app;
    auto* raw = w.get();
    watchers_.emplace(key, std::move(w));
    raw->thread = std::thread([this, raw] { watch(*raw); });
  }

  void watch(Watcher& w) {
    uint64_t index = 0;
    bool failing = false, answered = false;
    const std::string base = "/v1/health/service/" + url_escape(w.app) + "?passing=1" + dc_param();
    const auto wait = milliseconds(cfg_.watch_wait_ms);
    while (!w.abort.aborted()) {
      std::string target = base;
      if (index) target += "&index=" + std::to_string(index) + "&wait=" + go_duration(wait.count());
      // Consul may add up to wait/16 to a blocking query.
      auto timeout = index ? wait + wait / 16 + milliseconds(cfg_.request_timeout_ms)
                           : milliseconds(cfg_.request_timeout_ms);
      auto r = client_.request(http::verb::get, target, "", timeout, &w.abort);
      if (w.abort.aborted()) return;
      if (r.status != 200) {
        if (!failing)
          log(SKIFF_LOG_ERROR, "Consul health query for " + w.app + " failed: " + describe(r) +
                                   "; using the last known instances");
        failing = true;
        if (!answered) cache_.set(w.ns, w.app, {});  // wakes first lookups: nothing known
        index = 0;
        if (!pause(milliseconds(cfg_.retry_interval_ms))) return;
        continue;
      }
      if (failing) log(SKIFF_LOG_INFO, "Consul at " + client_.address() + " answers again");
      failing = false;
      answered = true;
      auto addresses = skiff::consul::parse_consul_services(
          r.body, w.ns, {cfg_.port_meta_key, cfg_.namespace_meta_key});
      for (const auto& a : addresses) cache_.confirm(a);  // passing checks prove them live
      cache_.set(w.ns, w.app, std::move(addresses));
      // An index that went backwards (agent restarted) starts over, as Consul's docs ask.
      index = r.index < index ? 0 : std::max<uint64_t>(r.index, 1);
    }
  }

  const skiff_host_api_t* host_;
  const Config cfg_;
  ConsulClient client_;
  InstanceCache cache_;
  std::string service_id_, registration_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, deregistering_ = false;
  Abort session_abort_;
  std::map<std::string, std::unique_ptr<Watcher>, std::less<>> watchers_;
  std::thread session_thread_, deregister_thread_;
};

// ---- C ABI: create() parses the configuration; resolver_abi.hpp does the rest ----

// The configuration as create() takes it; throws std::invalid_argument naming the key.
Config parse_config(const skiff_host_api_t* host, const skiff_config_t* config) {
  skiff::sdk::ConfigReader reader(host, config);
  static constexpr std::string_view kKeys[] = {"address",
                                               "token",
                                               "datacenter",
                                               "self_register",
                                               "self_deregister",
                                               "tags",
                                               "meta",
                                               "port_meta_key",
                                               "namespace_meta_key",
                                               "check_interval",
                                               "check_timeout",
                                               "deregister_critical_after",
                                               "watch_wait",
                                               "request_timeout",
                                               "retry_interval",
                                               "registration_check_interval"};
  reader.reject_unknown_keys(kKeys);
  Config cfg;
  std::string address = reader.string_or("address", "");
  if (address.empty())
    if (const char* env = std::getenv("CONSUL_HTTP_ADDR"); env && *env) address = env;
  if (address.empty()) address = "127.0.0.1:8500";
  if (address.starts_with("http://")) address = address.substr(7);
  if (address.starts_with("https://"))
    throw std::invalid_argument(reader.describe("address") +
                                ": https is not supported by this version; use the local "
                                "agent's HTTP address");
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size() ||
      address.find('/') != std::string::npos)
    throw std::invalid_argument(reader.describe("address") + ": \"" + address +
                                "\" is not host:port");
  cfg.host = address.substr(0, colon);
  cfg.port = address.substr(colon + 1);
  if (cfg.host.starts_with('[') && cfg.host.ends_with(']'))
    cfg.host = cfg.host.substr(1, cfg.host.size() - 2);
  cfg.token = reader.string_or("token", "");
  if (cfg.token.empty())
    if (const char* env = std::getenv("CONSUL_HTTP_TOKEN"); env) cfg.token = env;
  cfg.datacenter = reader.string_or("datacenter", "");
  cfg.self_register = reader.bool_or("self_register", cfg.self_register);
  cfg.self_deregister = reader.bool_or("self_deregister", cfg.self_deregister);
  cfg.tags = reader.string_list("tags");
  cfg.meta = reader.string_table("meta");
  cfg.port_meta_key = reader.string_or("port_meta_key", cfg.port_meta_key);
  cfg.namespace_meta_key = reader.string_or("namespace_meta_key", cfg.namespace_meta_key);
  struct Duration {
    const char* key;
    uint64_t* value;
    uint64_t min;
  } durations[] = {{"check_interval", &cfg.check_interval_ms, 100},
                   {"check_timeout", &cfg.check_timeout_ms, 100},
                   {"deregister_critical_after", &cfg.deregister_critical_after_ms, 1000},
                   {"watch_wait", &cfg.watch_wait_ms, 1000},
                   {"request_timeout", &cfg.request_timeout_ms, 100},
                   {"retry_interval", &cfg.retry_interval_ms, 10},
                   {"registration_check_interval", &cfg.registration_check_interval_ms, 100}};
  for (auto& d : durations) {
    *d.value = reader.duration_ms_or(d.key, *d.value);
    if (*d.value < d.min)
      throw std::invalid_argument(reader.describe(d.key) + ": must be at least " +
                                  std::to_string(d.min) + "ms");
  }
  if (cfg.watch_wait_ms > 600000)
    throw std::invalid_argument(reader.describe("watch_wait") +
                                ": Consul caps blocking queries at 10m");
  return cfg;
}

skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config, void** instance,
                      skiff_errbuf_t err) {
  return skiff::sdk::guard(err, [&]() -> skiff_status_t {
    Config cfg = parse_config(host, config);
    *instance = new ConsulResolver(host, std::move(cfg));
    return SKIFF_OK;
  });
}

// What check mode runs: the same parsing as create(), nothing started.
skiff_status_t check_config(const skiff_host_api_t* host, const skiff_config_t* config,
                            skiff_errbuf_t err) {
  return skiff::sdk::guard(err, [&]() -> skiff_status_t {
    parse_config(host, config);
    return SKIFF_OK;
  });
}

}  // namespace

SKIFF_BUNDLED_RESOLVER(ConsulResolver, create, check_config, "consul", "resolver-consul")
