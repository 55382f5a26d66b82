// Latency histogram with logarithmic buckets: each bucket is 1% wider than the one before, so
// any percentile is known to within 1% whatever the range (1 µs to minutes), in a fixed few KiB.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace skiff::bench {

class Histogram {
 public:
  void record(uint64_t ns) {
    ++counts_[bucket(ns)];
    ++total_;
    sum_ += ns;
    max_ = std::max(max_, ns);
  }
  void merge(const Histogram& o) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
  }
  uint64_t count() const { return total_; }
  uint64_t max() const { return max_; }
  double mean() const { return total_ ? static_cast<double>(sum_) / total_ : 0; }
  // The latency below which a fraction q of the samples fall (upper edge of its bucket, capped
  // at the maximum seen).
  uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(upper_edge(i), max_);
    }
    return max_;
  }

 private:
  static constexpr double kGrowth = 1.01;
  static constexpr size_t kBuckets = 2600;  // 1.01^2600 ns is far beyond any run
  static size_t bucket(uint64_t ns) {
    if (ns <= 1) return 0;
    auto b = static_cast<size_t>(std::log(static_cast<double>(ns)) / std::log(kGrowth));
    return std::min(b, kBuckets - 1);
  }
  static uint64_t upper_edge(size_t b) {
    return static_cast<uint64_t>(std::pow(kGrowth, static_cast<double>(b + 1)));
  }
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

}  // namespace skiff::bench
