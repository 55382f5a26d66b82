// resolver-kubernetes: finds sidecars through cluster DNS the way Kubernetes headless services
// publish them. `{app-id}-skiff.{namespace}.svc.{cluster-domain}` (the template is configurable)
// is looked up with c-ares: first its SRV record for the named internal port (which also works for
// instances on distinct ports), else its A/AAAA records with the configured port. Every address
// is used, round robin; answers are cached for their DNS TTL and refreshed in the background
// while callers keep using the cached ones.
//
// All c-ares work runs on the plugin's own thread (a c-ares channel is not thread-safe); host
// threads only read the cache or queue a lookup.
#include <ares.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dns_answer.hpp"
#include "instance_cache.hpp"
#include "resolver_abi.hpp"
#include "skiff/plugin.hpp"

namespace {

using skiff::plugins::InstanceCache;
using skiff::sdk::str;
using skiff::sdk::view;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Config {
  std::string cluster_domain = "cluster.local";
  std::string name_template = "{app-id}-skiff.{namespace}.svc.{cluster-domain}";
  std::string srv_port_name = "skiff-internal";  // "" turns SRV lookups off
  uint16_t port = 50002;
  std::string nameservers;  // "ip:port,ip:port"; empty = /etc/resolv.conf
  uint64_t min_ttl_ms = 1000;
  uint64_t max_ttl_ms = 30000;
  uint64_t query_timeout_ms = 2000;
  int family = AF_UNSPEC;
};

std::string replace_all(std::string s, std::string_view what, std::string_view with) {
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size()))
    s.replace(at, what.size(), with);
  return s;
}

class KubernetesResolver {
 public:
  KubernetesResolver(const skiff_host_api_t* host, Config cfg)
      : host_(host), cfg_(std::move(cfg)), cache_(host, milliseconds(cfg_.max_ttl_ms)) {}

  ~KubernetesResolver() {
    stop_ = true;
    wake();
    if (worker_.joinable()) worker_.join();
    if (channel_) ares_destroy(channel_);
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  // Control thread, at start-up.
  std::string open() {
    ares_library_init(ARES_LIB_INIT_ALL);  // reference-counted; once per process is enough
    ares_options opts{};
    opts.timeout = static_cast<int>(cfg_.query_timeout_ms);
    opts.tries = 2;
    int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    if (int rc = ares_init_options(&channel_, &opts, mask); rc != ARES_SUCCESS)
      return std::string("c-ares: ") + ares_strerror(rc);
    if (!cfg_.nameservers.empty())
      if (int rc = ares_set_servers_ports_csv(channel_, cfg_.nameservers.c_str());
          rc != ARES_SUCCESS)
        return "nameservers \"" + cfg_.nameservers + "\": " + ares_strerror(rc);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return "eventfd failed";
    worker_ = std::thread([this] { run(); });
    return "";
  }

  void resolve(const skiff_resolve_request_t* req, skiff_resolve_done_fn done, void* ud) {
    std::string ns(view(req->app_namespace)), app(view(req->app_id));
    std::string key = InstanceCache::key(ns, app);
    bool known = false;
    {
      std::lock_guard lock(mu_);
      auto& name = names_[key];
      if (name.fqdn.empty()) {
        name.ns = ns;
        name.app = app;
        name.fqdn = fqdn(ns, app);
      }
      known = name.answered;
      if (!known) {
        name.waiters.push_back({done, ud});
      }
      if (!name.in_flight && (!known || Clock::now() >= name.expires)) {
        name.in_flight = true;
        queue_.push_back(key);
        wake();
      }
    }
    if (!known) return;  // completes when the lookup answers
    if (!cache_.try_complete(ns, app, done, ud))
      done(ud, SKIFF_ERR_NOT_FOUND, nullptr, 0, str("no address for " + fqdn(ns, app)));
  }

  void report_unavailable(std::string_view app, std::string_view ns, std::string_view address) {
    cache_.report_unavailable(ns, app, address);
  }

  // Kubernetes registers instances itself (the Service's endpoints): nothing to do.
  void register_self(const skiff_registration_t*, skiff_done_fn done, void* ud) {
    done(ud, SKIFF_OK, str(""));
  }
  void deregister_self(skiff_done_fn done, void* ud) { done(ud, SKIFF_OK, str("")); }

 private:
  struct Waiter {
    skiff_resolve_done_fn done;
    void* ud;
  };
  struct Name {
    std::string ns, app, fqdn;
    bool answered = false;  // the cache holds an answer (possibly "none") for this name
    bool in_flight = false;
    Clock::time_point expires{};
    std::vector<Waiter> waiters;
  };
  // One lookup of one name, possibly several queries (SRV, then each target's addresses).
  struct Lookup {
    KubernetesResolver* self;
    std::string key, fqdn;
    int pending = 0;
    std::vector<std::string> addresses;
    int min_ttl = -1;
    std::string error;
  };
  struct TargetQuery {
    Lookup* lookup;
    uint16_t port;
  };

  std::string fqdn(std::string_view ns, std::string_view app) const {
    std::string name = replace_all(cfg_.name_template, "{app-id}", app);
    name = replace_all(name, "{namespace}", ns);
    name = replace_all(name, "{cluster-domain}", cfg_.cluster_domain);
    if (!name.ends_with('.')) name.push_back('.');  // absolute: no search-domain round trips
    return name;
  }

  void log(int32_t level, const std::string& msg) const {
    host_->log(host_->host, level, str("resolver-kubernetes"), str(msg));
  }

  void wake() const {
    if (wake_fd_ < 0) return;
    uint64_t one = 1;
    [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
  }

  // ---- worker thread ----

  void start_lookup(const std::string& key) {
    std::string name;
    {
      std::lock_guard lock(mu_);
      name = names_[key].fqdn;
    }
    auto* lookup = new Lookup{this, key, name, 0, {}, -1, {}};
    if (cfg_.srv_port_name.empty()) return query_addresses(lookup, name, cfg_.port);
    lookup->pending = 1;
    ares_query(channel_, ("_" + cfg_.srv_port_name + "._tcp." + name).c_str(), 1 /* C_IN */,
               33 /* T_SRV */, &KubernetesResolver::on_srv, lookup);
  }

  void query_addresses(Lookup* lookup, const std::string& name, uint16_t port) {
    ares_addrinfo_hints hints{};
    hints.ai_family = cfg_.family;
    hints.ai_flags = ARES_AI_NOSORT;
    ++lookup->pending;
    ares_getaddrinfo(channel_, name.c_str(), nullptr, &hints, &KubernetesResolver::on_addresses,
                     new TargetQuery{lookup, port});
  }

  static void on_srv(void* arg, int status, int, unsigned char* buf, int len) {
    auto* lookup = static_cast<Lookup*>(arg);
    auto* self = lookup->self;
    auto targets =
        status == ARES_SUCCESS ? skiff::kubernetes::parse_srv_answer(buf, len) : std::nullopt;
    if (targets) {
      for (const auto& target : *targets) self->query_addresses(lookup, target.host, target.port);
    } else if (status != ARES_EDESTRUCTION) {
      // No SRV record (a plain headless service): its A/AAAA records with the configured port.
      self->query_addresses(lookup, lookup->fqdn, self->cfg_.port);
    }
    self->finish_one(lookup);
  }

  static void on_addresses(void* arg, int status, int, ares_addrinfo* result) {
    auto* q = static_cast<TargetQuery*>(arg);
    auto* lookup = q->lookup;
    if (status == ARES_SUCCESS && result) {
      skiff::kubernetes::append_addresses(result, q->port, lookup->addresses, lookup->min_ttl);
    } else if (status != ARES_ENOTFOUND && status != ARES_ENODATA) {
      lookup->error = ares_strerror(status);
    }
    if (result) ares_freeaddrinfo(result);
    delete q;
    lookup->self->finish_one(lookup);
  }

  void finish_one(Lookup* lookup) {
    if (--lookup->pending > 0) return;
    std::unique_ptr<Lookup> owned(lookup);
    if (stop_) return;  // the channel is being destroyed: nobody waits any more
    auto& a = lookup->addresses;
    std::sort(a.begin(), a.end());
    a.erase(std::unique(a.begin(), a.end()), a.end());
    uint64_t ttl_ms = lookup->min_ttl < 0 ? cfg_.min_ttl_ms : uint64_t(lookup->min_ttl) * 1000;
    ttl_ms = std::clamp(ttl_ms, cfg_.min_ttl_ms, cfg_.max_ttl_ms);
    std::vector<Waiter> waiters;
    std::string ns, app;
    bool failed = a.empty() && !lookup->error.empty();
    {
      std::lock_guard lock(mu_);
      auto& name = names_[lookup->key];
      name.in_flight = false;
      waiters.swap(name.waiters);
      ns = name.ns;
      app = name.app;
      // A DNS failure keeps the previous answer (if any) and is retried after min_ttl.
      name.expires = Clock::now() + milliseconds(failed ? cfg_.min_ttl_ms : ttl_ms);
      if (!failed) name.answered = true;
    }
    if (failed)
      log(SKIFF_LOG_WARN, "DNS lookup of " + lookup->fqdn + " failed: " + lookup->error);
    else
      cache_.set(ns, app, a);
    for (auto& w : waiters) {
      if (cache_.try_complete(ns, app, w.done, w.ud)) continue;
      std::string why = failed ? "DNS lookup of " + lookup->fqdn + " failed: " + lookup->error
                               : "no address for " + lookup->fqdn;
      w.done(w.ud, failed ? SKIFF_ERR_UNAVAILABLE : SKIFF_ERR_NOT_FOUND, nullptr, 0, str(why));
    }
  }

  void run() {
    while (!stop_) {
      std::deque<std::string> queued;
      {
        std::lock_guard lock(mu_);
        queued.swap(queue_);
      }
      for (auto& key : queued) start_lookup(key);

      ares_socket_t socks[ARES_GETSOCK_MAXNUM];
      int bits = ares_getsock(channel_, socks, ARES_GETSOCK_MAXNUM);
      std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}};
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events) fds.push_back({socks[i], events, 0});
      }
      timeval tv{}, max{1, 0};
      timeval* t = ares_timeout(channel_, &max, &tv);
      int timeout_ms = static_cast<int>(t->tv_sec * 1000 + t->tv_usec / 1000);
      if (poll(fds.data(), fds.size(), timeout_ms) < 0) continue;
      if (fds[0].revents & POLLIN) {
        uint64_t n;
        [[maybe_unused]] auto r = read(wake_fd_, &n, sizeof n);
      }
      bool any = false;
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        any = true;
        ares_socket_t rd =
            fds[i].revents & (POLLIN | POLLERR | POLLHUP) ? fds[i].fd : ARES_SOCKET_BAD;
        ares_socket_t wr = fds[i].revents & POLLOUT ? fds[i].fd : ARES_SOCKET_BAD;
        ares_process_fd(channel_, rd, wr);
      }
      if (!any) ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
    }
    // Lookups still running complete with ARES_EDESTRUCTION when the channel is destroyed.
  }

  const skiff_host_api_t* host_;
  const Config cfg_;
  InstanceCache cache_;
  ares_channel channel_ = nullptr;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread worker_;
  std::mutex mu_;  // guards names_ and queue_
  std::map<std::string, Name, std::less<>> names_;
  std::deque<std::string> queue_;
};

// ---- C ABI: create() parses the configuration; resolver_abi.hpp does the rest ----

// Whether c-ares takes the nameserver list, on a channel of its own that is never used.
std::string check_nameservers(const std::string& csv) {
  if (csv.empty()) return "";
  ares_library_init(ARES_LIB_INIT_ALL);  // reference-counted; once per process is enough
  ares_channel channel = nullptr;
  if (int rc = ares_init(&channel); rc != ARES_SUCCESS)
    return std::string("c-ares: ") + ares_strerror(rc);
  int rc = ares_set_servers_ports_csv(channel, csv.c_str());
  ares_destroy(channel);
  return rc == ARES_SUCCESS ? "" : "\"" + csv + "\": " + ares_strerror(rc);
}

// The configuration as create() takes it; throws std::invalid_argument naming the key.
Config parse_config(const skiff_host_api_t* host, const skiff_config_t* config) {
  skiff::sdk::ConfigReader reader(host, config);
  static constexpr std::string_view kKeys[] = {"cluster_domain", "name_template", "srv_port_name",
                                               "port",           "nameservers",   "min_ttl",
                                               "max_ttl",        "query_timeout", "address_family"};
  reader.reject_unknown_keys(kKeys);
  Config cfg;
  cfg.cluster_domain = reader.string_or("cluster_domain", cfg.cluster_domain);
  cfg.name_template = reader.string_or("name_template", cfg.name_template);
  if (cfg.name_template.find("{app-id}") == std::string::npos)
    throw std::invalid_argument(reader.describe("name_template") +
                                ": must contain {app-id} (and usually {namespace})");
  cfg.srv_port_name = reader.string_or("srv_port_name", cfg.srv_port_name);
  int64_t port = reader.int_or("port", cfg.port);
  if (port < 1 || port > 65535)
    throw std::invalid_argument(reader.describe("port") + ": must be 1-65535");
  cfg.port = static_cast<uint16_t>(port);
  for (const auto& s : reader.string_list("nameservers")) {
    if (!cfg.nameservers.empty()) cfg.nameservers += ",";
    cfg.nameservers += s;
  }
  if (auto e = check_nameservers(cfg.nameservers); !e.empty())
    throw std::invalid_argument(reader.describe("nameservers") + ": " + e);
  cfg.min_ttl_ms = reader.duration_ms_or("min_ttl", cfg.min_ttl_ms);
  cfg.max_ttl_ms = reader.duration_ms_or("max_ttl", cfg.max_ttl_ms);
  if (cfg.min_ttl_ms == 0 || cfg.max_ttl_ms < cfg.min_ttl_ms)
    throw std::invalid_argument(reader.describe(cfg.min_ttl_ms ? "max_ttl" : "min_ttl") +
                                ": need 0 < min_ttl <= max_ttl");
  cfg.query_timeout_ms = reader.duration_ms_or("query_timeout", cfg.query_timeout_ms);
  if (cfg.query_timeout_ms == 0)
    throw std::invalid_argument(reader.describe("query_timeout") + ": must be greater than 0");
  auto family = reader.string_or("address_family", "any");
  if (family == "any")
    cfg.family = AF_UNSPEC;
  else if (family == "ipv4")
    cfg.family = AF_INET;
  else if (family == "ipv6")
    cfg.family = AF_INET6;
  else
    throw std::invalid_argument(reader.describe("address_family") +
                                ": expected \"any\", \"ipv4\" or \"ipv6\"");
  return cfg;
}

skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config, void** instance,
                      skiff_errbuf_t err) {
  return skiff::sdk::guard(err, [&]() -> skiff_status_t {
    Config cfg = parse_config(host, config);
    auto r = std::make_unique<KubernetesResolver>(host, std::move(cfg));
    if (auto e = r->open(); !e.empty()) throw std::runtime_error(e);
    *instance = r.release();
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

SKIFF_BUNDLED_RESOLVER(KubernetesResolver, create, check_config, "kubernetes",
                       "resolver-kubernetes")
