// The observer plugins named in [[observers]]: each gets the spans the sidecar records (on_span),
// its log records (on_log) and a metrics snapshot every metrics_interval (on_metrics), whichever
// it implements. The "prometheus" and "otlp" observers that [metrics] and [tracing] configure are
// created by the runtime itself; these are the operator's own (sdk/examples/observer-jsonl).
// A reload replaces the whole set: the new one takes over, the old one stops at once and is
// destroyed by a later reload (or at shutdown) once nothing runs in it.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

#include "common/result.hpp"
#include "config/settings.hpp"
#include "plugin/catalog.hpp"
#include "plugin/components.hpp"
#include "telemetry/metrics.hpp"
#include "telemetry/spans.hpp"

namespace skiff {

struct ObserverTimers;

class ConfiguredObservers : public std::enable_shared_from_this<ConfiguredObservers> {
 public:
  // Creates one instance per entry of settings.observers (`components` in the same order), on a
  // thread that is not an event loop. The instances read their tables in place: `settings` must
  // outlive the set, or be what `keep` owns. Fails with the first plugin's error, naming its
  // table.
  static Result<std::shared_ptr<ConfiguredObservers>> create(
      const Settings& settings, const std::vector<LoadedComponent>& components,
      const skiff_host_api_t* host, std::shared_ptr<const void> keep = nullptr);
  // Stops handing records to on_log if these still take them, then destroys the instances.
  ~ConfiguredObservers();
  ConfiguredObservers(const ConfiguredObservers&) = delete;
  ConfiguredObservers& operator=(const ConfiguredObservers&) = delete;

  // Makes these the observers in force, in place of the ones before: the spans that end from
  // now on go to their on_span, the records logged from now on to their on_log. Any thread.
  void activate(SpanSink& spans);
  // Starts the periodic snapshots on `io` (a timer per observer whose interval is not 0), from
  // `registry`. Metrics off (null registry): none.
  void start_metrics(boost::asio::io_context& io, const MetricRegistry* registry);
  // After a successor's activate(): no snapshot starts any more (one under way finishes).
  void retire();
  // Whether no snapshot is under way or can start: once retired, that is when the last timer
  // has seen it.
  bool idle() const;
  // One last snapshot to those that take them, once the event loops stopped and while
  // everything the registry's readers read still lives.
  void push_last_metrics() const;

 private:
  ConfiguredObservers() = default;
  struct Entry {
    std::unique_ptr<ObserverInstance> instance;
    uint64_t metrics_interval_ms = 0;
  };
  // Declared first: destroyed after the instances that read the tables it owns.
  std::shared_ptr<const void> keep_;
  std::vector<Entry> entries_;
  std::vector<SpanSink::Exporter> span_exporters_;
  std::vector<const ObserverInstance*> log_takers_;
  std::atomic<bool> forwards_logs_{false};
  const MetricRegistry* registry_ = nullptr;
  std::shared_ptr<ObserverTimers> timers_;
};

}  // namespace skiff
