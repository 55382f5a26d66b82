// Counters and histograms kept by the core, read by observer plugins (collect_metrics, ABI 1.4).
//
// The hot path takes no lock: a series is found through a per-thread cache keyed by a hash of its
// label values, and updated with relaxed atomics. The family's lock is taken only to create a
// series (once per label set) and to read them all (a scrape).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "skiff/observer.h"

namespace skiff {

// Dapr's latency buckets, in milliseconds (pkg/config/configuration.go).
std::span<const double> dapr_latency_buckets_ms();

// One labelled series. Counters use `value`; histograms `buckets` (one per bound, plus +Inf, each
// counting its own range, summed into cumulative counts when read) and `sum`.
struct MetricSeries {
  std::vector<std::string> label_values;
  std::atomic<uint64_t> value{0};
  std::unique_ptr<std::atomic<uint64_t>[]> buckets;
  std::atomic<double> sum{0};
};

class MetricFamily {
 public:
  // More label sets than this and the rest share one series whose labels all read "_other":
  // a caller that invents app ids cannot grow the sidecar's memory or the scraper's.
  static constexpr size_t kMaxSeries = 2000;

  MetricFamily(std::string name, std::string help, int32_t type,
               std::vector<std::string> label_names, std::vector<double> bounds = {});

  // The series of these label values (as many as the family has label names).
  MetricSeries& series(std::initializer_list<std::string_view> values);

  void add(std::initializer_list<std::string_view> values, uint64_t n = 1) {
    series(values).value.fetch_add(n, std::memory_order_relaxed);
  }
  void observe(std::initializer_list<std::string_view> values, double v);

  // Appends a snapshot of every series to `out`, keeping the storage its pointers refer to in
  // `keep` (alive until the snapshot is no longer used).
  struct Snapshot;
  void snapshot(Snapshot& into) const;

  const std::string& name() const { return name_; }
  size_t series_count() const;

 private:
  MetricSeries& create(std::initializer_list<std::string_view> values, uint64_t hash);

  const uint64_t id_;  // unique in the process: keys the per-thread caches
  std::string name_, help_;
  int32_t type_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::deque<MetricSeries> series_;  // stable addresses; never shrinks
  std::unordered_map<std::string, MetricSeries*> by_key_;
  MetricSeries* overflow_ = nullptr;
};

// A snapshot in the ABI's form: `metrics` points into the vectors kept beside it.
struct MetricFamily::Snapshot {
  std::vector<skiff_metric_t> metrics;
  std::deque<std::vector<skiff_header_t>> labels;
  std::deque<std::vector<uint64_t>> counts;
  std::vector<const skiff_metric_t*> pointers;  // filled by finish()
  void finish();
};

class MetricRegistry {
 public:
  // Families live as long as the registry; the references stay valid.
  MetricFamily& counter(std::string name, std::string help, std::vector<std::string> labels);
  MetricFamily& histogram(std::string name, std::string help, std::vector<std::string> labels,
                          std::span<const double> bounds);
  // A counter or gauge whose value is read when a snapshot is taken (from any thread).
  void add_reader(std::string name, std::string help, int32_t type, std::function<double()> read);

  // Calls fn once with every metric; fn must not call back into the registry.
  void collect(const std::function<void(const skiff_metric_t* const*, size_t)>& fn) const;

 private:
  struct Reader {
    std::string name, help;
    int32_t type;
    std::function<double()> read;
  };
  mutable std::mutex mutex_;
  std::deque<MetricFamily> families_;
  std::deque<Reader> readers_;
};

}  // namespace skiff
