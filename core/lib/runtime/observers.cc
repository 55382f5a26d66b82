#include "runtime/observers.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "runtime/logging.hpp"

namespace skiff {

namespace asio = boost::asio;

Result<std::unique_ptr<ConfiguredObservers>> ConfiguredObservers::create(
    const Settings& settings, const std::vector<LoadedComponent>& components,
    const skiff_host_api_t* host, SpanSink& spans) {
  std::unique_ptr<ConfiguredObservers> self(new ConfiguredObservers());
  std::vector<const ObserverInstance*> log_takers;
  for (size_t i = 0; i < settings.observers.size() && i < components.size(); ++i) {
    const auto& config = settings.observers[i];
    auto created =
        ObserverInstance::create(components[i], host, config.config, config.at + ".config");
    if (!created) return created.error();
    auto& instance = *created;
    if (auto exporter = instance->span_exporter()) spans.add(*exporter);
    if (instance->takes_logs()) log_takers.push_back(instance.get());
    self->entries_.push_back({std::move(instance), config.metrics_interval_ms});
  }
  self->forwards_logs_ = !log_takers.empty();
  if (self->forwards_logs_) forward_logs_to(std::move(log_takers));
  return self;
}

ConfiguredObservers::~ConfiguredObservers() {
  if (forwards_logs_) forward_logs_to({});
}

void ConfiguredObservers::push_last_metrics() const {
  if (!registry_) return;
  for (const auto& e : entries_)
    if (e.metrics_interval_ms && e.instance->takes_metrics())
      registry_->collect([&](const skiff_metric_t* const* metrics, size_t count) {
        e.instance->on_metrics(metrics, count);
      });
}

void ConfiguredObservers::start_metrics(asio::io_context& io, const MetricRegistry* registry) {
  registry_ = registry;
  if (!registry) return;
  for (const auto& e : entries_) {
    if (!e.metrics_interval_ms || !e.instance->takes_metrics()) continue;
    const ObserverInstance* observer = e.instance.get();
    const auto interval = std::chrono::milliseconds(e.metrics_interval_ms);
    asio::co_spawn(
        io,
        [observer, interval, registry]() -> asio::awaitable<void> {
          asio::steady_timer timer(co_await asio::this_coro::executor);
          for (;;) {
            timer.expires_after(interval);
            boost::system::error_code ec;
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            // A walk over every series, once per interval; the observer copies what it keeps.
            registry->collect([&](const skiff_metric_t* const* metrics, size_t count) {
              observer->on_metrics(metrics, count);
            });
          }
        },
        asio::detached);
  }
}

}  // namespace skiff
