// Configuration reload (SIGHUP, `systemctl reload`): the files are read again and checked as a
// start would check them; the keys a running sidecar can change (is_reloadable(), plus
// [[http_endpoints]] and [access_control]) take their new values for every call that starts
// afterwards, calls under way finish as they began, and every other change is named in the log
// and waits for a restart. A configuration that is broken is refused whole: the error is logged
// and the one in force stays.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/router.hpp"
#include "common/result.hpp"
#include "config/live_settings.hpp"
#include "config/settings.hpp"

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
};
// Fails when what would be in force is inconsistent (a policy without mTLS, say: mTLS cannot
// change until a restart).
Result<ReloadPlan> plan_reload(const Settings& in_force, Settings loaded);

class Reloader {
 public:
  // `startup` outlives this, as do the parts it changes.
  Reloader(boost::asio::io_context& io, const Settings& startup, SettingsSource source,
           LiveSettings& live, Router& router);
  ~Reloader();  // waits for a reload under way
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  // Starts a reload, or, while one runs, another one once it is done (a second SIGHUP after the
  // operator's second edit is not lost). Any thread.
  void request();

 private:
  void run();  // on worker_: reading files and loading plugins to check them blocks
  void apply(const std::shared_ptr<ReloadPlan>& plan, std::shared_ptr<ExternalCaller> external);
  void finish(bool applied);

  boost::asio::io_context& io_;
  const Settings& startup_;
  SettingsSource source_;
  LiveSettings& live_;
  Router& router_;
  std::mutex mu_;
  bool running_ = false;
  bool again_ = false;
  std::thread worker_;
};

}  // namespace skiff
