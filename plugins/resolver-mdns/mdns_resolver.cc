// resolver-mdns: DNS-SD over multicast DNS through avahi-daemon. The sidecar publishes itself as
// a `_skiff._tcp` service (SRV port = internal port; TXT: app id, namespace) and browses that type
// for as long as it runs. Every instance seen gets a service resolver that stays open, so Avahi's
// events (new, removed, changed port or address) update the cache as they happen: no polling, a
// restarted instance on a new port replaces the old one at once, and a goodbye removes an
// instance immediately. A lookup of an app not (yet) seen waits briefly for the browse.
//
// Avahi runs on its own threaded poll; host threads only read the cache. Calls into Avahi from
// other threads hold the poll's lock, as Avahi requires.
#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/thread-watch.h>
#include <net/if.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "instance_cache.hpp"
#include "mdns_txt.hpp"
#include "resolver_abi.hpp"
#include "skiff/plugin.hpp"

namespace {

using skiff::plugins::InstanceCache;
using skiff::sdk::str;
using skiff::sdk::view;
using std::chrono::milliseconds;

struct Config {
  std::string service_type = "_skiff._tcp";
  std::string domain = "local";
  AvahiProtocol family = AVAHI_PROTO_UNSPEC;
  uint64_t lookup_wait_ms = 1000;
};

class MdnsResolver {
 public:
  MdnsResolver(const skiff_host_api_t* host, Config cfg)
      : host_(host), cfg_(std::move(cfg)), cache_(host, milliseconds(30000)) {}

  ~MdnsResolver() {
    if (poll_) avahi_threaded_poll_stop(poll_);
    resolvers_.clear();
    if (browser_) avahi_service_browser_free(browser_);
    if (group_) avahi_entry_group_free(group_);
    if (client_) avahi_client_free(client_);
    if (poll_) avahi_threaded_poll_free(poll_);
  }

  // Control thread, at start-up. avahi-daemon being down is not an error: the client connects
  // when it appears (AVAHI_CLIENT_NO_FAIL).
  std::string open() {
    poll_ = avahi_threaded_poll_new();
    if (!poll_) return "cannot create the Avahi poll";
    int error = 0;
    client_ = avahi_client_new(avahi_threaded_poll_get(poll_), AVAHI_CLIENT_NO_FAIL,
                               &MdnsResolver::on_client, this, &error);
    if (!client_) return std::string("cannot create the Avahi client: ") + avahi_strerror(error);
    if (avahi_client_get_state(client_) == AVAHI_CLIENT_CONNECTING)
      log(SKIFF_LOG_ERROR,
          "avahi-daemon is not running; lookups and publication start when it appears");
    if (avahi_threaded_poll_start(poll_) < 0) return "cannot start the Avahi poll thread";
    return "";
  }

  void register_self(const skiff_registration_t* self, skiff_done_fn done, void* ud) {
    avahi_threaded_poll_lock(poll_);
    app_ = std::string(view(self->app_id));
    ns_ = std::string(view(self->app_namespace));
    port_ = self->internal_port;
    http_port_ = self->http_port;
    const char* host_name = client_ ? avahi_client_get_host_name(client_) : nullptr;
    std::string base =
        app_ + "@" + ns_ + " " + std::to_string(port_) + " " + (host_name ? host_name : "skiffd");
    name_ = base.substr(0, 63);  // a DNS label
    publishing_ = true;
    if (client_ && avahi_client_get_state(client_) == AVAHI_CLIENT_S_RUNNING) publish();
    avahi_threaded_poll_unlock(poll_);
    done(ud, SKIFF_OK, str(""));
  }

  void deregister_self(skiff_done_fn done, void* ud) {
    avahi_threaded_poll_lock(poll_);
    publishing_ = false;
    // Freeing the group withdraws the records: peers get a goodbye and drop us at once.
    if (group_) avahi_entry_group_free(group_);
    group_ = nullptr;
    avahi_threaded_poll_unlock(poll_);
    done(ud, SKIFF_OK, str(""));
  }

  void resolve(const skiff_resolve_request_t* req, skiff_resolve_done_fn done, void* ud) {
    std::string_view ns = view(req->app_namespace), app = view(req->app_id);
    cache_.resolve_or_wait(ns, app, milliseconds(cfg_.lookup_wait_ms),
                           "no instance of " + std::string(app) + " in namespace " +
                               std::string(ns) + " found by mDNS",
                           done, ud);
  }

  void report_unavailable(std::string_view app, std::string_view ns, std::string_view address) {
    cache_.report_unavailable(ns, app, address);
  }

 private:
  // One browse result: the same instance seen on one interface over one protocol.
  using SeenKey = std::tuple<AvahiIfIndex, AvahiProtocol, std::string>;
  struct Seen {
    MdnsResolver* self;
    SeenKey key;
    AvahiServiceResolver* resolver = nullptr;
    bool resolved = false;
    std::string app, ns, address;
    int rank = 0;  // lower is preferred: IPv4, global IPv6, link-local IPv6
    ~Seen() {
      if (resolver) avahi_service_resolver_free(resolver);
    }
  };

  void log(int32_t level, const std::string& msg) const {
    host_->log(host_->host, level, str("resolver-mdns"), str(msg));
  }

  // ---- everything below runs on the Avahi poll thread (or holds its lock) ----

  static void on_client(AvahiClient* client, AvahiClientState state, void* ud) {
    auto* self = static_cast<MdnsResolver*>(ud);
    if (!self->client_) self->client_ = client;  // the first call comes from avahi_client_new
    switch (state) {
      case AVAHI_CLIENT_S_RUNNING:
        self->log(SKIFF_LOG_INFO, "connected to avahi-daemon");
        if (self->publishing_ && !self->group_) self->publish();
        if (!self->browser_) self->browse();
        break;
      case AVAHI_CLIENT_S_COLLISION:
      case AVAHI_CLIENT_S_REGISTERING:
        // The host name changes: our records go and are published again once running.
        if (self->group_) avahi_entry_group_reset(self->group_);
        self->group_published_ = false;
        break;
      case AVAHI_CLIENT_FAILURE:
      case AVAHI_CLIENT_CONNECTING:
        // The daemon went away. Objects of the old connection are dead; the cache keeps the
        // last known instances until the daemon is back and browsing tells us the truth again.
        if (state == AVAHI_CLIENT_FAILURE)
          self->log(SKIFF_LOG_ERROR, std::string("lost avahi-daemon (") +
                                         avahi_strerror(avahi_client_errno(client)) +
                                         "); using the last known instances until it returns");
        self->resolvers_.clear();
        if (self->browser_) avahi_service_browser_free(self->browser_);
        self->browser_ = nullptr;
        if (self->group_) avahi_entry_group_free(self->group_);
        self->group_ = nullptr;
        self->group_published_ = false;
        if (state == AVAHI_CLIENT_FAILURE) self->reconnect();
        break;
    }
  }

  // A client that failed (the daemon went away) stays failed: replace it with a new one that
  // waits for the daemon, as Avahi's own tools do. Freeing it inside its callback is allowed.
  void reconnect() {
    avahi_client_free(client_);
    client_ = nullptr;
    int error = 0;
    avahi_client_new(avahi_threaded_poll_get(poll_), AVAHI_CLIENT_NO_FAIL, &MdnsResolver::on_client,
                     this, &error);
    if (!client_)
      log(SKIFF_LOG_ERROR, std::string("cannot create the Avahi client: ") + avahi_strerror(error));
  }

  void publish() {
    if (!group_) group_ = avahi_entry_group_new(client_, &MdnsResolver::on_group, this);
    if (!group_) {
      log(SKIFF_LOG_ERROR, std::string("cannot create an Avahi entry group: ") +
                               avahi_strerror(avahi_client_errno(client_)));
      return;
    }
    AvahiStringList* txt = nullptr;
    txt = avahi_string_list_add_pair(txt, "txtvers", "1");
    txt = avahi_string_list_add_pair(txt, "app-id", app_.c_str());
    txt = avahi_string_list_add_pair(txt, "namespace", ns_.c_str());
    txt = avahi_string_list_add_pair(txt, "http-port", std::to_string(http_port_).c_str());
    int rc = avahi_entry_group_add_service_strlst(
        group_, AVAHI_IF_UNSPEC, cfg_.family, AvahiPublishFlags(0), name_.c_str(),
        cfg_.service_type.c_str(), domain(), nullptr, port_, txt);
    avahi_string_list_free(txt);
    if (rc == AVAHI_ERR_COLLISION) return rename();
    if (rc == 0) rc = avahi_entry_group_commit(group_);
    if (rc < 0) log(SKIFF_LOG_ERROR, "cannot publish \"" + name_ + "\": " + avahi_strerror(rc));
  }

  // Another service already has our name: take "name #2" and publish again.
  void rename() {
    char* alt = avahi_alternative_service_name(name_.c_str());
    log(SKIFF_LOG_WARN, "service name \"" + name_ + "\" is taken; publishing as \"" + alt + "\"");
    name_ = alt;
    avahi_free(alt);
    avahi_entry_group_reset(group_);
    publish();
  }

  static void on_group(AvahiEntryGroup* group, AvahiEntryGroupState state, void* ud) {
    auto* self = static_cast<MdnsResolver*>(ud);
    if (self->group_ && group != self->group_) return;
    if (!self->group_) self->group_ = group;  // called from inside avahi_entry_group_new
    if (state == AVAHI_ENTRY_GROUP_ESTABLISHED && !self->group_published_) {
      self->group_published_ = true;
      self->log(SKIFF_LOG_INFO, "published \"" + self->name_ + "\" (" + self->cfg_.service_type +
                                    ", port " + std::to_string(self->port_) + ")");
    } else if (state == AVAHI_ENTRY_GROUP_COLLISION) {
      self->rename();
    } else if (state == AVAHI_ENTRY_GROUP_FAILURE) {
      self->log(SKIFF_LOG_ERROR,
                std::string("publication failed: ") +
                    avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(group))));
    }
  }

  const char* domain() const { return cfg_.domain.empty() ? nullptr : cfg_.domain.c_str(); }

  void browse() {
    browser_ =
        avahi_service_browser_new(client_, AVAHI_IF_UNSPEC, cfg_.family, cfg_.service_type.c_str(),
                                  domain(), AvahiLookupFlags(0), &MdnsResolver::on_browse, this);
    if (!browser_)
      log(SKIFF_LOG_ERROR, std::string("cannot browse ") + cfg_.service_type + ": " +
                               avahi_strerror(avahi_client_errno(client_)));
  }

  static void on_browse(AvahiServiceBrowser*, AvahiIfIndex iface, AvahiProtocol protocol,
                        AvahiBrowserEvent event, const char* name, const char* type,
                        const char* domain, AvahiLookupResultFlags, void* ud) {
    auto* self = static_cast<MdnsResolver*>(ud);
    switch (event) {
      case AVAHI_BROWSER_NEW: {
        SeenKey key{iface, protocol, name};
        auto seen = std::make_unique<Seen>();
        seen->self = self;
        seen->key = key;
        // Kept open: Avahi calls back again whenever the instance's port, TXT or address change.
        seen->resolver =
            avahi_service_resolver_new(self->client_, iface, protocol, name, type, domain, protocol,
                                       AvahiLookupFlags(0), &MdnsResolver::on_resolve, seen.get());
        if (!seen->resolver) {
          self->log(SKIFF_LOG_WARN, std::string("cannot resolve \"") + name +
                                        "\": " + avahi_strerror(avahi_client_errno(self->client_)));
          return;
        }
        self->resolvers_[key] = std::move(seen);
        break;
      }
      case AVAHI_BROWSER_REMOVE:
        if (self->resolvers_.erase(SeenKey{iface, protocol, name})) self->rebuild();
        break;
      case AVAHI_BROWSER_FAILURE:
        self->log(SKIFF_LOG_ERROR, std::string("browse failed: ") +
                                       avahi_strerror(avahi_client_errno(self->client_)));
        break;
      case AVAHI_BROWSER_ALL_FOR_NOW:
      case AVAHI_BROWSER_CACHE_EXHAUSTED:
        break;
    }
  }

  static void on_resolve(AvahiServiceResolver*, AvahiIfIndex iface, AvahiProtocol,
                         AvahiResolverEvent event, const char* name, const char*, const char*,
                         const char*, const AvahiAddress* a, uint16_t port, AvahiStringList* txt,
                         AvahiLookupResultFlags, void* ud) {
    auto* seen = static_cast<Seen*>(ud);
    auto* self = seen->self;
    if (event != AVAHI_RESOLVER_FOUND) {
      // A timeout here means the instance stopped answering; a goodbye removes it anyway.
      if (seen->resolved) {
        seen->resolved = false;
        self->rebuild();
      }
      return;
    }
    auto answer = a ? skiff::mdns::describe_instance(txt, *a, port, iface)
                    : skiff::mdns::MdnsAnswer{std::nullopt, "no address"};
    if (!answer.instance) {
      self->log(SKIFF_LOG_DEBUG,
                std::string("ignoring \"") + name + "\": " + answer.ignored_because);
      return;
    }
    seen->app = std::move(answer.instance->app);
    seen->ns = std::move(answer.instance->ns);
    seen->address = std::move(answer.instance->address);
    seen->rank = answer.instance->rank;
    seen->resolved = true;
    // An announcement is proof of life: an address reported unreachable may be used again.
    self->cache_.confirm(seen->address);
    self->rebuild();
  }

  // One address per instance name (its best one), grouped by app.
  void rebuild() {
    std::map<std::string, const Seen*> best;
    for (const auto& [key, seen] : resolvers_) {
      if (!seen->resolved) continue;
      auto& slot = best[std::get<2>(key)];
      if (!slot || seen->rank < slot->rank) slot = seen.get();
    }
    InstanceCache::Table table;
    for (const auto& [name, seen] : best)
      table[InstanceCache::key(seen->ns, seen->app)].push_back(seen->address);
    cache_.set_all(std::move(table));
  }

  const skiff_host_api_t* host_;
  const Config cfg_;
  InstanceCache cache_;
  AvahiThreadedPoll* poll_ = nullptr;
  // Owned by the poll thread (or whoever holds its lock) from here on.
  AvahiClient* client_ = nullptr;
  AvahiEntryGroup* group_ = nullptr;
  AvahiServiceBrowser* browser_ = nullptr;
  std::map<SeenKey, std::unique_ptr<Seen>> resolvers_;
  bool publishing_ = false, group_published_ = false;
  std::string app_, ns_, name_;
  uint16_t port_ = 0, http_port_ = 0;
};

// ---- C ABI: create() parses the configuration; resolver_abi.hpp does the rest ----

// The configuration as create() takes it; throws std::invalid_argument naming the key.
Config parse_config(const skiff_host_api_t* host, const skiff_config_t* config) {
  skiff::sdk::ConfigReader reader(host, config);
  static constexpr std::string_view kKeys[] = {"service_type", "domain", "address_family",
                                               "lookup_wait"};
  reader.reject_unknown_keys(kKeys);
  Config cfg;
  cfg.service_type = reader.string_or("service_type", cfg.service_type);
  if (!avahi_is_valid_service_type_strict(cfg.service_type.c_str()))
    throw std::invalid_argument(reader.describe("service_type") + ": \"" + cfg.service_type +
                                "\" is not a DNS-SD service type like \"_skiff._tcp\"");
  cfg.domain = reader.string_or("domain", cfg.domain);
  auto family = reader.string_or("address_family", "any");
  if (family == "any")
    cfg.family = AVAHI_PROTO_UNSPEC;
  else if (family == "ipv4")
    cfg.family = AVAHI_PROTO_INET;
  else if (family == "ipv6")
    cfg.family = AVAHI_PROTO_INET6;
  else
    throw std::invalid_argument(reader.describe("address_family") +
                                ": expected \"any\", \"ipv4\" or \"ipv6\"");
  cfg.lookup_wait_ms = reader.duration_ms_or("lookup_wait", cfg.lookup_wait_ms);
  if (cfg.lookup_wait_ms > 30000)
    throw std::invalid_argument(reader.describe("lookup_wait") + ": at most 30s");
  return cfg;
}

skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config, void** instance,
                      skiff_errbuf_t err) {
  return skiff::sdk::guard(err, [&]() -> skiff_status_t {
    Config cfg = parse_config(host, config);
    auto r = std::make_unique<MdnsResolver>(host, std::move(cfg));
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

SKIFF_BUNDLED_RESOLVER(MdnsResolver, create, check_config, "mdns", "resolver-mdns")
