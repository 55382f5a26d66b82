// What both load generators share: the request schedule (open or closed loop) and the JSON report.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "histogram.hpp"

namespace skiff::bench {

using Clock = std::chrono::steady_clock;

// What both load generators are told about the load: its size, its lanes and its timing.
struct LoadShape {
  size_t body_size = 1024;
  int connections = 16;
  double rate = 0;  // requests/s in all; 0: closed loop
  double duration = 10;
  double warmup = 1;
};

inline void add_load_options(CLI::App& app, LoadShape& load, const char* lanes_help) {
  app.add_option("--body-size", load.body_size, "Request body bytes");
  app.add_option("--connections,-c", load.connections, lanes_help)->check(CLI::PositiveNumber);
  app.add_option("--rate,-r", load.rate, "Requests per second in all (open loop); 0: closed loop");
  app.add_option("--duration,-d", load.duration, "Seconds measured")->check(CLI::PositiveNumber);
  app.add_option("--warmup", load.warmup, "Seconds before measuring starts");
}

// Open loop (rate > 0): request slots at fixed times, rate per second in all, taken by whichever
// lane is free, and latency counts from the slot's time. Closed loop: a lane sends its next
// request as soon as its previous answer arrived.
struct Schedule {
  explicit Schedule(const LoadShape& load) : rate(load.rate) {
    const double warmup = load.warmup, duration = load.duration;
    start = Clock::now() + std::chrono::milliseconds(50);  // connections open first
    measure_from =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
    end = measure_from +
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
    if (rate > 0) interval = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / rate));
  }
  // The time the lane's next request is due, or nothing when the run is over. The caller waits
  // until then (open loop) and measures latency from it.
  std::optional<Clock::time_point> next() {
    Clock::time_point due;
    if (rate > 0) {
      due = start + next_slot.fetch_add(1, std::memory_order_relaxed) * interval;
    } else {
      due = std::max(Clock::now(), start);  // every lane starts at the same moment
    }
    if (due >= end) return std::nullopt;
    return due;
  }
  bool measured(Clock::time_point due) const { return due >= measure_from; }

  double rate;
  Clock::time_point start, measure_from, end;
  std::chrono::nanoseconds interval{0};
  std::atomic<uint64_t> next_slot{0};
};

// One lane's counts; lanes are merged at the end.
struct LaneStats {
  Histogram latency;
  uint64_t completed = 0;  // answered in the measurement window
  uint64_t failed = 0;     // non-2xx HTTP answers, or gRPC status other than OK
  uint64_t errors = 0;     // connection or protocol errors
  uint64_t bytes_in = 0;
};

// Writes the report on stdout; returns the exit code (1 when anything failed).
template <typename Lanes>
int report(const Lanes& lanes, const LoadShape& load) {
  const double rate = load.rate, duration = load.duration;
  const int connections = load.connections;
  const size_t body_size = load.body_size;
  Histogram all;
  uint64_t completed = 0, failed = 0, errors = 0, bytes_in = 0;
  for (const auto& s : lanes) {
    all.merge(s.latency);
    completed += s.completed;
    failed += s.failed;
    errors += s.errors;
    bytes_in += s.bytes_in;
  }
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  nlohmann::json out = {
      {"mode", rate > 0 ? "open" : "closed"},
      {"target_rate", rate},
      {"connections", connections},
      {"body_size", body_size},
      {"duration_s", duration},
      {"requests", completed},
      {"non_2xx", failed},
      {"errors", errors},
      {"throughput_rps", static_cast<double>(completed) / duration},
      {"bytes_in", bytes_in},
      {"latency_us",
       {{"p50", us(all.percentile(0.50))},
        {"p90", us(all.percentile(0.90))},
        {"p99", us(all.percentile(0.99))},
        {"p999", us(all.percentile(0.999))},
        {"max", us(all.max())},
        {"mean", all.mean() / 1000.0}}},
  };
  std::cout << out.dump() << std::endl;
  return errors == 0 && failed == 0 ? 0 : 1;
}

}  // namespace skiff::bench
