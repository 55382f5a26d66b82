#include "runtime/reload.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "config/loader.hpp"
#include "config/schema.hpp"
#include "runtime/logging.hpp"
#include "runtime/service_manager.hpp"
#include "runtime/startup_check.hpp"

namespace skiff {

namespace asio = boost::asio;

namespace {

bool same_policies(const AccessControl& a, const AccessControl& b) {
  // `where` is only where the table starts: moving it in the file changes nothing.
  return a.configured == b.configured && a.default_allow == b.default_allow &&
         a.trust_domain == b.trust_domain && a.policies == b.policies;
}

bool same_observers(const std::vector<ObserverConfig>& a, const std::vector<ObserverConfig>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.type == y.type && x.config == y.config &&
           x.metrics_interval_ms == y.metrics_interval_ms;
  });
}

bool same_middleware(const std::vector<MiddlewareConfig>& a,
                     const std::vector<MiddlewareConfig>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.type == y.type && x.config == y.config;
  });
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// systemd 253's Type=notify-reload wants the time of the reload with RELOADING=1; older ones
// ignore it.
std::string reloading_state() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec =
      static_cast<uint64_t>(now.tv_sec) * 1000000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
  return fmt::format("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC={}", usec);
}

}  // namespace

Result<ReloadPlan> plan_reload(const Settings& in_force, Settings loaded) {
  ReloadPlan plan;
  for (const auto& spec : config_schema()) {
    std::visit(
        [&](auto member) {
          if (in_force.*member == loaded.*member) return;
          if (is_reloadable(spec.key)) {
            plan.applied.emplace_back(spec.key);
          } else {
            plan.kept.push_back(loaded.where(spec.key));
            loaded.*member = in_force.*member;
          }
        },
        spec.field);
  }
  if (in_force.http_endpoints != loaded.http_endpoints) {
    plan.applied.emplace_back("http_endpoints");
    plan.http_endpoints_changed = true;
  }
  plan.resolver_changed = in_force.resolver_type != loaded.resolver_type ||
                          in_force.resolver_config != loaded.resolver_config;
  if (!same_policies(in_force.access_control, loaded.access_control))
    plan.applied.emplace_back("access_control");
  if (!same_observers(in_force.observers, loaded.observers)) {
    plan.applied.emplace_back("observers");
    plan.observers_changed = true;
  }
  if (!same_middleware(in_force.middleware, loaded.middleware)) {
    plan.kept.emplace_back("middleware");
    loaded.middleware = in_force.middleware;
  }
  // What would be in force must hold together: an [access_control] added while mTLS stays off
  // until a restart, say, is refused like a start would refuse it.
  if (auto valid = validate_settings(loaded); !valid)
    return make_error(valid.error().code, valid.error().message + " (with " + joined(plan.kept) +
                                              " as in force until a restart)");
  plan.next = std::move(loaded);
  return plan;
}

Reloader::Reloader(asio::io_context& io, const Settings& startup, SettingsSource source,
                   ReloadTargets targets)
    : io_(io), startup_(startup), source_(std::move(source)), to_(targets) {}

Reloader::~Reloader() {
  if (worker_.joinable()) worker_.join();
}

void Reloader::set_registration(std::function<skiff_registration_t()> registration) {
  std::lock_guard lock(mu_);
  registration_known_ = true;
  registration_ = std::move(registration);
}

void Reloader::request() {
  std::lock_guard lock(mu_);
  if (running_) {
    again_ = true;
    return;
  }
  running_ = true;
  // The last reload's thread has posted its result and is returning, if it has not yet.
  if (worker_.joinable()) worker_.join();
  notify_service_manager(reloading_state());
  spdlog::info("reloading the configuration");
  worker_ = std::thread([this] { run(); });
}

namespace {

// Moves out of `list` what `in_use` says nothing uses any more.
template <typename T, typename InUse>
std::vector<std::shared_ptr<T>> take_unused(std::vector<std::shared_ptr<T>>& list, InUse in_use) {
  auto unused = std::partition(list.begin(), list.end(), in_use);
  std::vector<std::shared_ptr<T>> out(std::make_move_iterator(unused),
                                      std::make_move_iterator(list.end()));
  list.erase(unused, list.end());
  return out;
}

}  // namespace

void Reloader::release_retired() {
  std::vector<std::shared_ptr<ResolverInstance>> resolvers;
  std::vector<std::shared_ptr<ConfiguredObservers>> observers;
  {
    std::lock_guard lock(mu_);
    // Only these lists hold them now: no call can reach them again.
    resolvers = take_unused(retired_, [](const auto& r) { return r.use_count() > 1; });
    observers = take_unused(retired_observers_,
                            [](const auto& o) { return o.use_count() > 1 || !o->idle(); });
  }
  // Destroyed here, on this thread and not on an event loop.
}

void Reloader::run() {
  release_retired();
  auto refuse = [this](const std::string& why) {
    spdlog::error("configuration reload refused, the configuration in force stays: {}", why);
    asio::post(io_, [this] { finish(false); });
  };
  auto loaded = source_();
  if (!loaded) return refuse(loaded.error().message);
  // What a start with these files would refuse (an unknown plugin type, a resolver's own
  // configuration check, an HTTP endpoint's TLS files), a reload refuses too.
  auto checked = check_startup(*loaded);
  if (!checked) return refuse(checked.error().message);
  auto plan = plan_reload(*to_.live.current(), std::move(*loaded));
  if (!plan) return refuse(plan.error().message);
  auto prepared = std::make_shared<Prepared>();
  prepared->next = std::make_shared<const Settings>(std::move(plan->next));
  prepared->applied = std::move(plan->applied);
  prepared->kept = std::move(plan->kept);
  const Settings& next = *prepared->next;
  if (plan->http_endpoints_changed) {
    auto created = ExternalCaller::create(io_, startup_, next.http_endpoints);
    if (!created) return refuse(created.error().message);
    prepared->external = std::move(*created);
  }
  std::optional<ConfiguredComponents> components;
  if (plan->resolver_changed || plan->observers_changed) {
    auto found = find_configured_components(next, to_.host);
    if (!found) return refuse(found.error().message);
    components = std::move(*found);
  }
  if (plan->observers_changed) {
    // Created here, off the event loops, as at start-up; they read their tables from `next`.
    auto created =
        ConfiguredObservers::create(next, components->observers, to_.host, prepared->next);
    if (!created) return refuse(created.error().message);
    prepared->observers = std::move(*created);
  }
  if (plan->resolver_changed) {
    {
      std::lock_guard lock(mu_);
      if (!registration_known_)
        return refuse(
            "resolver: this sidecar is still registering with the resolver in force; reload "
            "again once it serves");
    }
    auto created = ResolverInstance::create(components->resolver, to_.host, next.resolver_config);
    if (!created) return refuse(created.error().message);
    // The instance reads its table in place, from the settings it was created with: it keeps
    // them alive.
    struct Owner {
      std::shared_ptr<const Settings> settings;
      std::shared_ptr<ResolverInstance> resolver;
    };
    auto owner = std::make_shared<Owner>(Owner{prepared->next, std::move(*created)});
    prepared->resolver = std::shared_ptr<ResolverInstance>(owner, owner->resolver.get());
  }
  asio::co_spawn(io_, apply(std::move(prepared)), asio::detached);
}

asio::awaitable<bool> Reloader::move_registration(std::shared_ptr<ResolverInstance> next) {
  std::function<skiff_registration_t()> registration;
  {
    std::lock_guard lock(mu_);
    registration = registration_;
  }
  if (!registration) co_return true;  // no app id: registered nowhere
  const auto old = to_.caller.resolver();
  // Leaving first: two registrations of one sidecar can clash (mDNS refuses a second service of
  // the same name) or the old one's removal could take the new row with it (one SQLite file).
  if (auto left = co_await old->deregister_self(); left.status != SKIFF_OK)
    spdlog::warn("configuration reload: leaving the registry of the resolver in force failed: {}",
                 left.message);
  const skiff_registration_t self = registration();
  auto joined = co_await next->register_self(self);
  if (joined.status == SKIFF_OK) co_return true;
  spdlog::error(
      "configuration reload refused, the configuration in force stays: registration with "
      "resolver '{}' failed: {}",
      next->component().type_name, joined.message);
  if (auto back = co_await old->register_self(self); back.status != SKIFF_OK)
    spdlog::critical(
        "registering again with the resolver in force failed too: {}; peers cannot find this "
        "sidecar until a reload or restart succeeds",
        back.message);
  co_return false;
}

asio::awaitable<void> Reloader::apply(std::shared_ptr<Prepared> prepared) {
  if (auto& resolver = prepared->resolver) {
    const bool moved = co_await move_registration(resolver);
    {
      std::lock_guard lock(mu_);
      // Whichever is left out now is destroyed by the next reload, off the event loops.
      retired_.push_back(moved ? to_.caller.resolver() : resolver);
    }
    if (!moved) {
      if (prepared->observers) {
        std::lock_guard lock(mu_);
        retired_observers_.push_back(std::move(prepared->observers));
      }
      finish(false);
      co_return;
    }
    to_.caller.replace_resolver(std::move(resolver));
  }
  if (auto& observers = prepared->observers) {
    observers->activate(to_.spans);
    observers->start_metrics(io_, to_.metrics);
    to_.observers->retire();
    std::lock_guard lock(mu_);
    retired_observers_.push_back(std::exchange(to_.observers, std::move(observers)));
  }
  const std::string sources = joined(prepared->next->sources);
  const std::string log_level = prepared->next->log_level;
  const bool new_level = log_level != to_.live.current()->log_level;
  if (prepared->external) to_.router.replace_external(std::move(prepared->external));
  to_.live.publish(std::move(prepared->next));
  if (prepared->applied.empty())
    spdlog::info("configuration reloaded from {}: nothing a reload applies has changed", sources);
  else
    spdlog::info("configuration reloaded from {}: applied {}", sources, joined(prepared->applied));
  if (!prepared->kept.empty())
    spdlog::warn("configuration reload: {} changed but keep their value until a restart",
                 joined(prepared->kept));
  // Last, so that the lines above are written at the level the operator left.
  if (new_level) set_log_level(log_level);
  finish(true);
}

void Reloader::finish(bool applied) {
  notify_service_manager(fmt::format("READY=1\nSTATUS=serving app-id={}{}",
                                     startup_.app_id.empty() ? "(none)" : startup_.app_id,
                                     applied ? "" : "; the last reload was refused"));
  bool again = false;
  {
    std::lock_guard lock(mu_);
    running_ = false;
    again = std::exchange(again_, false);
  }
  if (again) request();
}

}  // namespace skiff
