// The configuration in force, replaced whole when a reload applies a new one. A call takes one
// snapshot when it starts and reads the reloadable keys (is_reloadable() in schema.hpp) from it
// to its end, so a reload never changes a call half-way; keys a reload cannot change are the
// same in every snapshot.
#pragma once

#include <atomic>
#include <memory>

#include "config/settings.hpp"

namespace skiff {

class LiveSettings {
 public:
  // `startup` is borrowed and outlives this: the first snapshot is the start-up configuration.
  explicit LiveSettings(const Settings& startup)
      : current_(std::shared_ptr<const Settings>(std::shared_ptr<const Settings>(), &startup)) {}

  // Any thread; the snapshot stays valid as long as it is held, whatever is published meanwhile.
  std::shared_ptr<const Settings> current() const {
    return current_.load(std::memory_order_acquire);
  }
  void publish(std::shared_ptr<const Settings> next) {
    current_.store(std::move(next), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const Settings>> current_;
};

// What a component reads its reloadable keys from: the live settings once it was given them,
// else (a component used on its own, as in tests) its fixed ones.
inline std::shared_ptr<const Settings> settings_now(const LiveSettings* live,
                                                    const Settings& fixed) {
  return live ? live->current()
              : std::shared_ptr<const Settings>(std::shared_ptr<const Settings>(), &fixed);
}

}  // namespace skiff
