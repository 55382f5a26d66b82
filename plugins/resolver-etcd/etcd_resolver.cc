// resolver-etcd: sidecars register under a key prefix in etcd, each key bound to a lease that this
// sidecar keeps alive; when a sidecar dies its lease expires and etcd deletes the key. Lookups
// answer from a cache of the whole prefix, filled by one Range and kept current by one Watch, so
// a new instance is known before anyone asks for it.
//
// Two plugin threads do all etcd work with gRPC's blocking API: the session thread (lease,
// registration, keep-alives) and the watch thread (range + watch). Host threads only read the
// cache.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "etcd_answer.hpp"
#include "etcd_rpc.grpc.pb.h"
#include "instance_cache.hpp"
#include "resolver_abi.hpp"
#include "skiff/plugin.hpp"

namespace {

namespace pb = etcdserverpb;
using skiff::plugins::InstanceCache;
using skiff::sdk::str;
using skiff::sdk::view;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Config {
  std::vector<std::string> endpoints{"127.0.0.1:2379"};
  std::string prefix = "/skiff/instances/";
  uint64_t lease_ttl_ms = 10000;
  uint64_t request_timeout_ms = 5000;
  uint64_t first_lookup_wait_ms = 1000;
  uint64_t retry_interval_ms = 1000;
};

// "prefix" + 1 in the last byte that can grow: etcd's range end for "every key under prefix".
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& c = prefix.back();
    if (static_cast<unsigned char>(c) < 0xff) {
      ++c;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

class EtcdResolver {
 public:
  EtcdResolver(const skiff_host_api_t* host, Config cfg)
      : host_(host), cfg_(std::move(cfg)), cache_(host, milliseconds(30000)) {
    channel_ = make_channel(0);
    watch_thread_ = std::thread([this] { watch_loop(); });
  }

  ~EtcdResolver() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      if (watch_ctx_) watch_ctx_->TryCancel();
      if (keepalive_ctx_) keepalive_ctx_->TryCancel();
    }
    cv_.notify_all();
    if (deregister_thread_.joinable()) deregister_thread_.join();
    if (watch_thread_.joinable()) watch_thread_.join();
    if (session_thread_.joinable()) session_thread_.join();
  }

  void register_self(const skiff_registration_t* self, skiff_done_fn done, void* ud) {
    std::string ns(view(self->app_namespace)), app(view(self->app_id));
    std::string address = std::string(view(self->host)) + ":" + std::to_string(self->internal_port);
    {
      std::lock_guard lock(mu_);
      self_key_ = cfg_.prefix + ns + "/" + app + "/" + address;
      self_value_ = R"({"app_id":")" + app + R"(","namespace":")" + ns + R"(","address":")" +
                    address + R"(","http_port":)" + std::to_string(self->http_port) + "}";
    }
    // The first attempt decides what start-up reports; later ones run in the background, so a
    // sidecar started while etcd is down registers as soon as etcd is back.
    session_thread_ = std::thread([this, done, ud] { session_loop(done, ud); });
  }

  // Runs on a thread of its own: it waits for the session thread and for etcd.
  void deregister_self(skiff_done_fn done, void* ud) {
    deregister_thread_ = std::thread([this, done, ud] { deregister(done, ud); });
  }

 private:
  void deregister(skiff_done_fn done, void* ud) {
    int64_t lease;
    {
      std::lock_guard lock(mu_);
      deregistering_ = true;
      lease = lease_id_;
      if (keepalive_ctx_) keepalive_ctx_->TryCancel();
    }
    cv_.notify_all();
    if (session_thread_.joinable()) session_thread_.join();
    if (lease == 0) return done(ud, SKIFF_OK, str(""));
    // Revoking the lease deletes our key at once, instead of after the TTL.
    pb::LeaseRevokeRequest req;
    req.set_id(lease);
    pb::LeaseRevokeResponse res;
    auto ctx = context();
    auto st = pb::Lease::NewStub(channel())->LeaseRevoke(ctx.get(), req, &res);
    if (!st.ok())
      return done(ud, SKIFF_ERR_UNAVAILABLE, str("etcd lease revoke: " + st.error_message()));
    log(SKIFF_LOG_INFO, "deregistered " + self_key_);
    done(ud, SKIFF_OK, str(""));
  }

 public:
  void resolve(const skiff_resolve_request_t* req, skiff_resolve_done_fn done, void* ud) {
    std::string why = "no instance of " + std::string(view(req->app_id)) + " in namespace " +
                      std::string(view(req->app_namespace)) + " under " + cfg_.prefix;
    // Until the first Range has answered, a miss may only mean "not loaded yet": wait for it.
    auto wait = milliseconds(loaded_.load() ? 0 : cfg_.first_lookup_wait_ms);
    cache_.resolve_or_wait(view(req->app_namespace), view(req->app_id), wait, std::move(why), done,
                           ud);
  }

  void report_unavailable(std::string_view app, std::string_view ns, std::string_view address) {
    cache_.report_unavailable(ns, app, address);
  }

 private:
  void log(int32_t level, const std::string& msg) const {
    host_->log(host_->host, level, str("resolver-etcd"), str(msg));
  }

  std::shared_ptr<grpc::Channel> make_channel(size_t index) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    return grpc::CreateCustomChannel(cfg_.endpoints[index % cfg_.endpoints.size()],
                                     grpc::InsecureChannelCredentials(), args);
  }
  std::shared_ptr<grpc::Channel> channel() {
    std::lock_guard lock(mu_);
    return channel_;
  }
  // After a failure, the next attempt goes to the next endpoint.
  void next_endpoint() {
    if (cfg_.endpoints.size() < 2) return;
    std::lock_guard lock(mu_);
    channel_ = make_channel(++endpoint_index_);
  }
  std::unique_ptr<grpc::ClientContext> context() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + milliseconds(cfg_.request_timeout_ms));
    return ctx;
  }
  // Waits for `d` or until stopped; returns false when stopped.
  bool pause(milliseconds d, bool session = false) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [&] { return stop_ || (session && deregistering_); });
    return !(stop_ || (session && deregistering_));
  }
  // The pause between attempts after a failure. It waits on the channel first: that polls gRPC,
  // which a reconnection needs to make progress when nothing else in the process does (skiffd
  // starts its own gRPC server only for gRPC clients).
  bool retry_pause(bool session = false) {
    const auto interval = milliseconds(cfg_.retry_interval_ms);
    const auto started = std::chrono::steady_clock::now();
    channel()->WaitForConnected(std::chrono::system_clock::now() + interval);
    auto left = interval - std::chrono::duration_cast<milliseconds>(
                               std::chrono::steady_clock::now() - started);
    return pause(std::max(left, milliseconds(0)), session);
  }
  bool stopping(bool session) {
    std::lock_guard lock(mu_);
    return stop_ || (session && deregistering_);
  }
  std::string where() const {
    return "etcd at " + cfg_.endpoints[endpoint_index_ % cfg_.endpoints.size()];
  }

  // ---- session thread: lease, key, keep-alives ----

  std::string grant_and_put() {
    pb::LeaseGrantRequest grant;
    grant.set_ttl(static_cast<int64_t>((cfg_.lease_ttl_ms + 999) / 1000));
    pb::LeaseGrantResponse granted;
    auto stub = pb::Lease::NewStub(channel());
    auto ctx = context();
    if (auto st = stub->LeaseGrant(ctx.get(), grant, &granted); !st.ok())
      return where() + ": lease grant: " + st.error_message();
    if (!granted.error().empty()) return where() + ": lease grant: " + granted.error();
    pb::PutRequest put;
    std::string key;
    {
      std::lock_guard lock(mu_);
      key = self_key_;
      put.set_value(self_value_);
    }
    put.set_key(key);
    put.set_lease(granted.id());
    pb::PutResponse res;
    auto put_ctx = context();
    if (auto st = pb::KV::NewStub(channel())->Put(put_ctx.get(), put, &res); !st.ok())
      return where() + ": put " + key + ": " + st.error_message();
    std::lock_guard lock(mu_);
    lease_id_ = granted.id();
    return "";
  }

  // Keeps the lease alive until the stream breaks or the lease is gone; returns why it stopped.
  std::string keep_alive() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    int64_t lease;
    {
      std::lock_guard lock(mu_);
      if (stop_ || deregistering_) return "";
      keepalive_ctx_ = ctx.get();
      lease = lease_id_;
    }
    auto stream = pb::Lease::NewStub(channel())->LeaseKeepAlive(ctx.get());
    std::string why;
    const auto every = milliseconds(std::max<uint64_t>(cfg_.lease_ttl_ms / 3, 200));
    for (;;) {
      pb::LeaseKeepAliveRequest req;
      req.set_id(lease);
      pb::LeaseKeepAliveResponse res;
      if (!stream->Write(req) || !stream->Read(&res)) {
        why = "keep-alive stream broke";
        break;
      }
      if (res.ttl() <= 0) {
        why = "lease expired";
        break;
      }
      if (!pause(every, true)) break;
    }
    stream->WritesDone();
    ctx->TryCancel();
    auto st = stream->Finish();
    if (!st.ok() && why == "keep-alive stream broke") why += ": " + st.error_message();
    std::lock_guard lock(mu_);
    keepalive_ctx_ = nullptr;
    return stop_ || deregistering_ ? "" : why;
  }

  void session_loop(skiff_done_fn done, void* ud) {
    bool reported = false;
    while (!stopping(true)) {
      std::string err = grant_and_put();
      if (!reported) {
        reported = true;
        if (err.empty())
          log(SKIFF_LOG_INFO, "registered " + self_key_ + " with a " +
                                  std::to_string(cfg_.lease_ttl_ms / 1000) + "s lease in " +
                                  where());
        else
          log(SKIFF_LOG_ERROR, err + "; not registered yet, retrying every " +
                                   std::to_string(cfg_.retry_interval_ms) + "ms");
        done(ud, SKIFF_OK, str(""));
      } else if (err.empty()) {
        log(SKIFF_LOG_INFO, "registered " + self_key_ + " again in " + where());
      }
      if (!err.empty()) {
        next_endpoint();
        if (!retry_pause(true)) break;
        continue;
      }
      std::string why = keep_alive();
      if (why.empty()) break;
      log(SKIFF_LOG_WARN, where() + ": " + why + "; registering again");
    }
  }

  // ---- watch thread: range, then watch from the next revision ----

  // Loads the whole prefix into the cache; returns the revision it reflects, or 0 on failure.
  int64_t load(std::string& err) {
    pb::RangeRequest req;
    req.set_key(cfg_.prefix);
    req.set_range_end(prefix_end(cfg_.prefix));
    pb::RangeResponse res;
    auto ctx = context();
    if (auto st = pb::KV::NewStub(channel())->Range(ctx.get(), req, &res); !st.ok()) {
      err = where() + ": range " + cfg_.prefix + ": " + st.error_message();
      return 0;
    }
    known_ = skiff::etcd::table_from_range(cfg_.prefix, res);
    cache_.set_all(known_);
    loaded_ = true;
    return res.header().revision();
  }

  // Watches from `revision`; returns when the stream ends (error, compaction, stop).
  std::string watch(int64_t revision) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    {
      std::lock_guard lock(mu_);
      if (stop_) return "";
      watch_ctx_ = ctx.get();
    }
    auto stream = pb::Watch::NewStub(channel())->Watch(ctx.get());
    pb::WatchRequest req;
    auto* create = req.mutable_create_request();
    create->set_key(cfg_.prefix);
    create->set_range_end(prefix_end(cfg_.prefix));
    create->set_start_revision(revision);
    create->set_progress_notify(true);
    std::string why = "watch stream ended";
    if (stream->Write(req)) {
      pb::WatchResponse res;
      while (stream->Read(&res)) {
        if (res.canceled() || res.compact_revision() > 0) {
          why = "watch cancelled: " + res.cancel_reason();
          break;
        }
        apply(res);
      }
    }
    ctx->TryCancel();
    auto st = stream->Finish();
    if (!st.ok()) why += ": " + st.error_message();
    std::lock_guard lock(mu_);
    watch_ctx_ = nullptr;
    return stop_ ? "" : why;
  }

  void apply(const pb::WatchResponse& res) {
    if (res.events().empty()) return;
    // A key written again is the instance announcing itself: trust it again.
    for (const auto& address : skiff::etcd::apply_watch_events(cfg_.prefix, res, known_))
      cache_.confirm(address);
    // The cache filters out instances reported unreachable until confirm() or their hold-back ends.
    cache_.set_all(known_);
  }

  void watch_loop() {
    bool failing = false;
    while (!stopping(false)) {
      std::string err;
      int64_t revision = load(err);
      if (revision == 0) {
        if (!failing) log(SKIFF_LOG_ERROR, err + "; lookups use the last known instances");
        failing = true;
        next_endpoint();
        if (!retry_pause()) break;
        continue;
      }
      if (failing) log(SKIFF_LOG_INFO, where() + " is reachable again");
      failing = false;
      std::string why = watch(revision + 1);
      if (why.empty()) break;
      log(SKIFF_LOG_WARN, where() + ": " + why + "; reloading");
      failing = true;
      if (!retry_pause()) break;
    }
  }

  const skiff_host_api_t* host_;
  const Config cfg_;
  InstanceCache cache_;
  std::atomic<bool> loaded_{false};
  InstanceCache::Table known_;  // what etcd holds under the prefix; watch thread only

  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  bool stop_ = false;
  bool deregistering_ = false;
  std::shared_ptr<grpc::Channel> channel_;
  std::atomic<size_t> endpoint_index_{0};
  std::string self_key_, self_value_;
  int64_t lease_id_ = 0;
  grpc::ClientContext* watch_ctx_ = nullptr;
  grpc::ClientContext* keepalive_ctx_ = nullptr;
  std::thread watch_thread_, session_thread_, deregister_thread_;
};

// ---- C ABI: create() parses the configuration; resolver_abi.hpp does the rest ----

// The configuration as create() takes it; throws std::invalid_argument naming the key.
Config parse_config(const skiff_host_api_t* host, const skiff_config_t* config) {
  skiff::sdk::ConfigReader reader(host, config);
  static constexpr std::string_view kKeys[] = {
      "endpoints", "prefix", "lease_ttl", "request_timeout", "first_lookup_wait", "retry_interval"};
  reader.reject_unknown_keys(kKeys);
  Config cfg;
  if (reader.has("endpoints")) cfg.endpoints = reader.string_list("endpoints");
  if (cfg.endpoints.empty())
    throw std::invalid_argument(reader.describe("endpoints") + ": needs at least one address");
  for (auto& e : cfg.endpoints) {
    if (e.starts_with("http://")) e = e.substr(7);
    if (e.starts_with("https://"))
      throw std::invalid_argument(reader.describe("endpoints") +
                                  ": TLS endpoints are not supported by this version: " + e);
    if (e.find(':') == std::string::npos || e.ends_with(":"))
      throw std::invalid_argument(reader.describe("endpoints") + ": \"" + e +
                                  "\" is not host:port");
  }
  cfg.prefix = reader.string_or("prefix", cfg.prefix);
  if (cfg.prefix.empty() || cfg.prefix.back() != '/')
    throw std::invalid_argument(reader.describe("prefix") + ": must end with '/'");
  cfg.lease_ttl_ms = reader.duration_ms_or("lease_ttl", cfg.lease_ttl_ms);
  if (cfg.lease_ttl_ms < 2000)
    throw std::invalid_argument(reader.describe("lease_ttl") + ": must be at least 2s");
  cfg.request_timeout_ms = reader.duration_ms_or("request_timeout", cfg.request_timeout_ms);
  cfg.first_lookup_wait_ms = reader.duration_ms_or("first_lookup_wait", cfg.first_lookup_wait_ms);
  cfg.retry_interval_ms = reader.duration_ms_or("retry_interval", cfg.retry_interval_ms);
  if (cfg.request_timeout_ms == 0 || cfg.retry_interval_ms == 0)
    throw std::invalid_argument(
        reader.describe(cfg.request_timeout_ms ? "retry_interval" : "request_timeout") +
        ": must be greater than 0");
  return cfg;
}

skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config, void** instance,
                      skiff_errbuf_t err) {
  return skiff::sdk::guard(err, [&]() -> skiff_status_t {
    Config cfg = parse_config(host, config);
    *instance = new EtcdResolver(host, std::move(cfg));
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

SKIFF_BUNDLED_RESOLVER(EtcdResolver, create, check_config, "etcd", "resolver-etcd")
