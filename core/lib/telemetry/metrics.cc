#include "telemetry/metrics.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace skiff {

namespace {

constexpr double kDaprLatencyBucketsMs[] = {
    1,   2,   3,   4,   5,   6,   8,   10,  13,  16,  20,   25,   30,   40,  50,  65,  80,
    100, 130, 160, 200, 250, 300, 400, 500, 650, 800, 1000, 2000, 5000, 1e4, 2e4, 5e4, 1e5};

std::atomic<uint64_t> next_family_id{1};

uint64_t fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t hash_of(uint64_t family, std::initializer_list<std::string_view> values) {
  uint64_t h = 14695981039346656037ull ^ family;
  for (auto v : values) {
    h = fnv1a(h, v);
    h = (h ^ 0xffu) * 1099511628211ull;  // a separator: ("ab","c") and ("a","bc") differ
  }
  return h;
}

bool same_values(const MetricSeries& s, std::initializer_list<std::string_view> values) {
  if (s.label_values.size() != values.size()) return false;
  auto it = s.label_values.begin();
  for (auto v : values)
    if (*it++ != v) return false;
  return true;
}

// Series a thread has used, by hash; entries of families that no longer exist are never hit
// again (family ids are not reused).
struct CachedSeries {
  uint64_t family;
  MetricSeries* series;
};
thread_local std::unordered_map<uint64_t, CachedSeries> series_cache;

}  // namespace

std::span<const double> dapr_latency_buckets_ms() {
  return kDaprLatencyBucketsMs;
}

MetricFamily::MetricFamily(std::string name, std::string help, int32_t type,
                           std::vector<std::string> label_names, std::vector<double> bounds)
    : id_(next_family_id.fetch_add(1, std::memory_order_relaxed)),
      name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

MetricSeries& MetricFamily::series(std::initializer_list<std::string_view> values) {
  const uint64_t hash = hash_of(id_, values);
  if (auto it = series_cache.find(hash); it != series_cache.end() && it->second.family == id_ &&
                                         same_values(*it->second.series, values))
    return *it->second.series;
  return create(values, hash);
}

MetricSeries& MetricFamily::create(std::initializer_list<std::string_view> values, uint64_t hash) {
  std::string key;
  for (auto v : values) {
    key += std::to_string(v.size());
    key += ':';
    key += v;
  }
  std::lock_guard lock(mutex_);
  MetricSeries* found = nullptr;
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    found = it->second;
  } else if (series_.size() >= kMaxSeries) {
    if (!overflow_) {
      spdlog::warn("metric {} has {} label sets; further ones are counted under \"_other\"", name_,
                   kMaxSeries);
      auto& s = series_.emplace_back();
      s.label_values.assign(label_names_.size(), "_other");
      if (type_ == SKIFF_METRIC_HISTOGRAM)
        s.buckets = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
      overflow_ = &s;
    }
    return *overflow_;  // not cached: the cache holds only exact matches
  } else {
    auto& s = series_.emplace_back();
    s.label_values.assign(values.begin(), values.end());
    s.label_values.resize(label_names_.size());
    if (type_ == SKIFF_METRIC_HISTOGRAM)
      s.buckets = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
    by_key_.emplace(std::move(key), &s);
    found = &s;
  }
  if (same_values(*found, values)) series_cache[hash] = {id_, found};
  return *found;
}

void MetricFamily::observe(std::initializer_list<std::string_view> values, double v) {
  auto& s = series(values);
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  s.buckets[i].fetch_add(1, std::memory_order_relaxed);
  s.sum.fetch_add(v, std::memory_order_relaxed);
}

size_t MetricFamily::series_count() const {
  std::lock_guard lock(mutex_);
  return series_.size();
}

void MetricFamily::snapshot(Snapshot& into) const {
  std::lock_guard lock(mutex_);
  for (const auto& s : series_) {
    skiff_metric_t m{};
    m.struct_size = sizeof m;
    m.name = {name_.data(), name_.size()};
    m.help = {help_.data(), help_.size()};
    m.type = type_;
    auto& labels = into.labels.emplace_back();
    for (size_t i = 0; i < label_names_.size(); ++i)
      labels.push_back({{label_names_[i].data(), label_names_[i].size()},
                        {s.label_values[i].data(), s.label_values[i].size()}});
    m.labels = labels.data();
    m.label_count = labels.size();
    if (type_ == SKIFF_METRIC_HISTOGRAM) {
      auto& counts = into.counts.emplace_back(bounds_.size() + 1);
      uint64_t total = 0;
      for (size_t i = 0; i <= bounds_.size(); ++i) {
        total += s.buckets[i].load(std::memory_order_relaxed);
        counts[i] = total;
      }
      m.bucket_bounds = bounds_.data();
      m.bucket_counts = counts.data();
      m.bucket_count = bounds_.size();
      m.count = total;
      m.sum = s.sum.load(std::memory_order_relaxed);
    } else {
      m.value = static_cast<double>(s.value.load(std::memory_order_relaxed));
    }
    into.metrics.push_back(m);
  }
}

void MetricFamily::Snapshot::finish() {
  pointers.clear();
  for (const auto& m : metrics) pointers.push_back(&m);
}

MetricFamily& MetricRegistry::counter(std::string name, std::string help,
                                      std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  return families_.emplace_back(std::move(name), std::move(help), SKIFF_METRIC_COUNTER,
                                std::move(labels));
}

MetricFamily& MetricRegistry::histogram(std::string name, std::string help,
                                        std::vector<std::string> labels,
                                        std::span<const double> bounds) {
  std::lock_guard lock(mutex_);
  return families_.emplace_back(std::move(name), std::move(help), SKIFF_METRIC_HISTOGRAM,
                                std::move(labels),
                                std::vector<double>(bounds.begin(), bounds.end()));
}

void MetricRegistry::add_reader(std::string name, std::string help, int32_t type,
                                std::function<double()> read) {
  std::lock_guard lock(mutex_);
  readers_.push_back({std::move(name), std::move(help), type, std::move(read)});
}

void MetricRegistry::collect(
    const std::function<void(const skiff_metric_t* const*, size_t)>& fn) const {
  MetricFamily::Snapshot snap;
  {
    std::lock_guard lock(mutex_);
    for (const auto& f : families_) f.snapshot(snap);
    for (const auto& r : readers_) {
      skiff_metric_t m{};
      m.struct_size = sizeof m;
      m.name = {r.name.data(), r.name.size()};
      m.help = {r.help.data(), r.help.size()};
      m.type = r.type;
      m.value = r.read();
      snap.metrics.push_back(m);
    }
    snap.finish();
  }
  // Outside the lock: the strings point into families and readers, which are never removed.
  fn(snap.pointers.data(), snap.pointers.size());
}

}  // namespace skiff
