#include "runtime/reload.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <time.h>

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
  if (!same_policies(in_force.access_control, loaded.access_control))
    plan.applied.emplace_back("access_control");
  if (!same_observers(in_force.observers, loaded.observers)) {
    plan.kept.emplace_back("observers");
    loaded.observers = in_force.observers;
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
                   LiveSettings& live, Router& router)
    : io_(io), startup_(startup), source_(std::move(source)), live_(live), router_(router) {}

Reloader::~Reloader() {
  if (worker_.joinable()) worker_.join();
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

void Reloader::run() {
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
  auto plan = plan_reload(*live_.current(), std::move(*loaded));
  if (!plan) return refuse(plan.error().message);
  std::shared_ptr<ExternalCaller> external;
  if (plan->http_endpoints_changed) {
    auto created = ExternalCaller::create(io_, startup_, plan->next.http_endpoints);
    if (!created) return refuse(created.error().message);
    external = std::move(*created);
  }
  auto shared = std::make_shared<ReloadPlan>(std::move(*plan));
  asio::post(io_, [this, shared, external] { apply(shared, external); });
}

void Reloader::apply(const std::shared_ptr<ReloadPlan>& plan,
                     std::shared_ptr<ExternalCaller> external) {
  const std::string sources = joined(plan->next.sources);
  const std::string log_level = plan->next.log_level;
  const bool new_level = log_level != live_.current()->log_level;
  if (external) router_.replace_external(std::move(external));
  live_.publish(std::make_shared<const Settings>(std::move(plan->next)));
  if (plan->applied.empty())
    spdlog::info("configuration reloaded from {}: nothing a reload applies has changed", sources);
  else
    spdlog::info("configuration reloaded from {}: applied {}", sources, joined(plan->applied));
  if (!plan->kept.empty())
    spdlog::warn("configuration reload: {} changed but keep their value until a restart",
                 joined(plan->kept));
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
