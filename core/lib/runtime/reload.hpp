// Configuration reload (SIGHUP, `systemctl reload`): the files are read again and checked as a
// start would check them; the keys a running sidecar can change (is_reloadable(), plus
// [[http_endpoints]] and [access_control]) take their new values for every call that starts
// afterwards, calls under way finish as they began, and every other change is named in the log
// and waits for a restart. A new resolver (resolver.type or resolver.config) is created beside
// the one in force; this sidecar leaves the old one's registry and joins the new one's before
// calls start resolving with it, and a failure there puts the old one back. A configuration that is
// broken is refused whole: the error is logged and the one in force stays.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/router.hpp"
#include "common/result.hpp"
#include "config/live_settings.hpp"
#include "config/settings.hpp"
#include "invoke/caller.hpp"
#include "runtime/observers.hpp"

namespace skiff {

// Reads the configuration as start-up read it (the same files, drop-ins found again, the same
// flags on top).
using SettingsSource = std::function<Result<Settings>()>;

struct ReloadPlan {
  // The new configuration with every key a reload cannot change as it is in force.
  Settings next;
  // What takes a new value: keys ("log.level"), "http_endpoints", "access_control".
  std::vector<std::string> applied;
  // What changed in the files but keeps its value until a restart, each with where it was set:
  // "skiff.toml:4:13: api.http_port".
  std::vector<std::string> kept;
  bool http_endpoints_changed = false;
  bool resolver_changed = false;
  bool observers_changed = false;
};
// Fails when what would be in force is inconsistent (a policy without mTLS, say: mTLS cannot
// change until a restart).
Result<ReloadPlan> plan_reload(const Settings& in_force, Settings loaded);

// The parts of a running sidecar a reload changes; they outlive the Reloader.
struct ReloadTargets {
  LiveSettings& live;
  Router& router;
  Caller& caller;
  const skiff_host_api_t* host;
  SpanSink& spans;
  const MetricRegistry* metrics;  // null: metrics off
  // The [[observers]] in force; replaced on an event loop, read by the runtime once they stop.
  std::shared_ptr<ConfiguredObservers>& observers;
};

class Reloader {
 public:
  // `startup` outlives this, as do the parts it changes.
  Reloader(boost::asio::io_context& io, const Settings& startup, SettingsSource source,
           ReloadTargets targets);
  ~Reloader();  // waits for a reload under way
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  // Starts a reload, or, while one runs, another one once it is done (a second SIGHUP after the
  // operator's second edit is not lost). Any thread.
  void request();

  // Once this sidecar has registered: what it registers with a new resolver; null when it
  // registers nowhere (no app id). Until then a reload that replaces the resolver is refused.
  void set_registration(std::function<skiff_registration_t()> registration);

 private:
  struct Prepared {
    std::shared_ptr<const Settings> next;
    std::shared_ptr<ExternalCaller> external;        // null: the endpoints did not change
    std::shared_ptr<ResolverInstance> resolver;      // null: the resolver did not change
    std::shared_ptr<ConfiguredObservers> observers;  // null: [[observers]] did not change
    std::vector<std::string> applied, kept;
  };
  void release_retired();
  void run();  // on worker_: reading files and loading plugins to check them blocks
  boost::asio::awaitable<void> apply(std::shared_ptr<Prepared> prepared);
  // Moves this sidecar's registration to `next`; false (and the old one in force) on failure.
  boost::asio::awaitable<bool> move_registration(std::shared_ptr<ResolverInstance> next);
  void finish(bool applied);

  boost::asio::io_context& io_;
  const Settings& startup_;
  SettingsSource source_;
  ReloadTargets to_;
  std::mutex mu_;
  bool registration_known_ = false;
  std::function<skiff_registration_t()> registration_;
  // Resolvers a reload replaced, released on worker_ (their destruction may join threads)
  // once no call holds them any more.
  std::vector<std::shared_ptr<ResolverInstance>> retired_;
  std::vector<std::shared_ptr<ConfiguredObservers>> retired_observers_;
  bool running_ = false;
  bool again_ = false;
  std::thread worker_;
};

}  // namespace skiff
