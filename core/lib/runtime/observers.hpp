// The observer plugins named in [[observers]]: each gets the spans the sidecar records (on_span),
// its log records (on_log) and a metrics snapshot every metrics_interval (on_metrics), whichever
// it implements. The "prometheus" and "otlp" observers that [metrics] and [tracing] configure are
// created by the runtime itself; these are the operator's own (sdk/examples/observer-jsonl).
#pragma once

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

class ConfiguredObservers {
 public:
  // Creates one instance per entry of settings.observers (`components` in the same order) and
  // adds the span takers to `spans`. Fails with the first plugin's error, naming its table.
  static Result<std::unique_ptr<ConfiguredObservers>> create(
      const Settings& settings, const std::vector<LoadedComponent>& components,
      const skiff_host_api_t* host, SpanSink& spans);
  // Stops handing records to on_log, then destroys the instances.
  ~ConfiguredObservers();

  // Starts the periodic snapshots on `io` (a timer per observer whose interval is not 0), from
  // `registry`. Metrics off (null registry): none.
  void start_metrics(boost::asio::io_context& io, const MetricRegistry* registry);
  // One last snapshot to those that take them, once the event loops stopped and while
  // everything the registry's readers read still lives.
  void push_last_metrics() const;

 private:
  ConfiguredObservers() = default;
  struct Entry {
    std::unique_ptr<ObserverInstance> instance;
    uint64_t metrics_interval_ms = 0;
  };
  std::vector<Entry> entries_;
  bool forwards_logs_ = false;
  const MetricRegistry* registry_ = nullptr;
};

}  // namespace skiff
