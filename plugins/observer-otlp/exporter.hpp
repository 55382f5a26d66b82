// The export side of observer-otlp: spans wait in a bounded queue (on_span only copies and
// never blocks), and the plugin's own worker sends them in batches to the collector over
// OTLP/HTTP. A slow or dead collector costs dropped spans, counted and logged, never a call.
#ifndef SKIFF_OBSERVER_OTLP_EXPORTER_HPP
#define SKIFF_OBSERVER_OTLP_EXPORTER_HPP

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "otlp_config.hpp"
#include "span_batch.hpp"

namespace skiff::otlp {

class Exporter {
 public:
  using Log = std::function<void(int32_t level, const std::string& message)>;
  Exporter(ExportConfig config, Log log);
  ~Exporter();  // sends what is queued (one attempt, bounded by the timeout), then stops

  void add(const skiff_span_t& span);

  uint64_t exported() const { return exported_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  void run();
  // One POST; true when the collector took it. `retry` tells whether trying again may help.
  bool send(const std::string& body, bool& retry, std::string& why);
  void report_drops();

  const ExportConfig config_;
  const Log log_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<OwnedSpan> queue_;
  bool stopping_ = false;
  std::atomic<bool> stopping_flag_{false};
  std::atomic<uint64_t> send_generation_{0};  // stopping_, read without the lock by send()
  std::atomic<uint64_t> exported_{0}, dropped_{0};
  uint64_t dropped_reported_ = 0;
  std::chrono::steady_clock::time_point last_report_{};
  bool failing_ = false;  // the last export failed (logged once per outage)
  struct Connection;
  std::unique_ptr<Connection> connection_;
  std::thread worker_;
};

}  // namespace skiff::otlp

#endif
