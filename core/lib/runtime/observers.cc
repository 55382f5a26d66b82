#include "runtime/observers.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "runtime/logging.hpp"

namespace skiff {

namespace asio = boost::asio;

// The snapshot timers of one set. Every timer operation and every snapshot runs on `strand`, so
// that retire() (posted there) cannot interleave with a snapshot.
struct ObserverTimers {
  explicit ObserverTimers(asio::io_context& io) : strand(asio::make_strand(io)) {}
  asio::strand<asio::io_context::executor_type> strand;
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  bool stopped = false;  // on the strand
  std::atomic<int> running{0};
};

namespace {

// Parameters by value, no lambda captures: the frame owns what it uses.
asio::awaitable<void> snapshot_every(std::shared_ptr<ObserverTimers> timers, size_t k,
                                     const ObserverInstance* observer,
                                     std::chrono::milliseconds interval,
                                     const MetricRegistry* registry) {
  auto& timer = *timers->timers[k];
  for (;;) {
    timer.expires_after(interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || timers->stopped) break;
    // A walk over every series, once per interval; the observer copies what it keeps.
    registry->collect([&](const skiff_metric_t* const* metrics, size_t count) {
      observer->on_metrics(metrics, count);
    });
  }
  // Last: from here on nothing in this frame touches the observer.
  timers->running.fetch_sub(1);
}

}  // namespace

Result<std::shared_ptr<ConfiguredObservers>> ConfiguredObservers::create(
    const Settings& settings, const std::vector<LoadedComponent>& components,
    const skiff_host_api_t* host, std::shared_ptr<const void> keep) {
  std::shared_ptr<ConfiguredObservers> self(new ConfiguredObservers());
  self->keep_ = std::move(keep);
  for (size_t i = 0; i < settings.observers.size() && i < components.size(); ++i) {
    const auto& config = settings.observers[i];
    auto created =
        ObserverInstance::create(components[i], host, config.config, config.at + ".config");
    if (!created) return created.error();
    auto& instance = *created;
    if (auto exporter = instance->span_exporter()) self->span_exporters_.push_back(*exporter);
    if (instance->takes_logs()) self->log_takers_.push_back(instance.get());
    self->entries_.push_back({std::move(instance), config.metrics_interval_ms});
  }
  return self;
}

ConfiguredObservers::~ConfiguredObservers() {
  if (forwards_logs_.load()) forward_logs_to({});
}

void ConfiguredObservers::activate(SpanSink& spans) {
  spans.replace_observers(span_exporters_, shared_from_this());
  // Replaces the takers before: after it returns, none of theirs runs (logging.hpp).
  forward_logs_to(log_takers_);
  forwards_logs_.store(!log_takers_.empty());
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
  auto timers = std::make_shared<ObserverTimers>(io);
  std::vector<std::pair<const ObserverInstance*, std::chrono::milliseconds>> periodic;
  for (const auto& e : entries_) {
    if (!e.metrics_interval_ms || !e.instance->takes_metrics()) continue;
    periodic.emplace_back(e.instance.get(), std::chrono::milliseconds(e.metrics_interval_ms));
    timers->timers.push_back(std::make_unique<asio::steady_timer>(timers->strand));
  }
  timers->running = static_cast<int>(periodic.size());
  timers_ = timers;
  for (size_t k = 0; k < periodic.size(); ++k)
    asio::co_spawn(timers->strand,
                   snapshot_every(timers, k, periodic[k].first, periodic[k].second, registry),
                   asio::detached);
}

void ConfiguredObservers::retire() {
  forwards_logs_.store(false);  // the successor's activate() replaced them
  if (!timers_) return;
  asio::post(timers_->strand, [timers = timers_] {
    timers->stopped = true;
    for (auto& t : timers->timers) t->cancel();
  });
}

bool ConfiguredObservers::idle() const {
  return !timers_ || timers_->running.load() == 0;
}

}  // namespace skiff
