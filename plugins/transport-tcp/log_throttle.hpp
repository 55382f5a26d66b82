// Rate limit for a warning that can repeat once per connection attempt (a refused connection,
// a failed accept): at most one line per interval, and that line counts what was held back.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace skiff::tcp_transport {

class LogThrottle {
 public:
  explicit LogThrottle(int64_t interval_ms) : interval_ms_(interval_ms) {}

  struct Line {
    uint64_t count;      // events since the last line, this one included
    std::string detail;  // the latest event's
  };

  // An event at now_ms: the line to write now, or nothing when the last one is too recent.
  std::optional<Line> note(int64_t now_ms, std::string detail) {
    std::lock_guard lock(mu_);
    ++held_;
    detail_ = std::move(detail);
    return take_if_due(now_ms);
  }
  // Events held back whose interval has passed: the tail of a burst, which would otherwise go
  // unreported until the next event. Called periodically.
  std::optional<Line> flush(int64_t now_ms) {
    std::lock_guard lock(mu_);
    if (held_ == 0) return std::nullopt;
    return take_if_due(now_ms);
  }

  int64_t interval_ms() const { return interval_ms_; }

 private:
  std::optional<Line> take_if_due(int64_t now_ms) {
    if (logged_ && now_ms - last_ms_ < interval_ms_) return std::nullopt;
    logged_ = true;
    last_ms_ = now_ms;
    return Line{std::exchange(held_, 0), std::move(detail_)};
  }

  const int64_t interval_ms_;
  std::mutex mu_;  // note() runs on the accept path, flush() on the sweep, maybe another thread
  bool logged_ = false;
  int64_t last_ms_ = 0;
  uint64_t held_ = 0;
  std::string detail_;
};

}  // namespace skiff::tcp_transport
