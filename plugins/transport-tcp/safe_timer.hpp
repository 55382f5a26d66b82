// A host timer that can be stopped from any thread, even while its callback runs: after stop()
// returns, the callback is neither running nor will it run, so its target may be freed.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "skiff/skiff.h"

namespace skiff::tcp_transport {

class SafeTimer {
 public:
  SafeTimer() = default;
  ~SafeTimer() { stop(); }
  SafeTimer(const SafeTimer&) = delete;
  SafeTimer& operator=(const SafeTimer&) = delete;

  void start(const skiff_host_api_t* host, uint64_t delay_ms, std::function<void()> fn) {
    stop();
    host_ = host;
    auto state = std::make_shared<State>();
    state->fn = std::move(fn);
    state_ = state;
    box_ = new std::shared_ptr<State>(std::move(state));
    id_ = host->timer_start(host->host, delay_ms, &SafeTimer::fire, box_);
  }

  void stop() {
    if (!state_) return;
    {
      std::lock_guard lock(state_->mu);  // waits for a running callback
      state_->stopped = true;
      state_->fn = nullptr;
    }
    if (host_->timer_cancel(host_->host, id_)) delete box_;  // it will never fire
    state_.reset();
    box_ = nullptr;
  }

 private:
  struct State {
    std::mutex mu;
    bool stopped = false;
    std::function<void()> fn;
  };
  static void fire(void* ud) {
    auto* box = static_cast<std::shared_ptr<State>*>(ud);
    {
      std::lock_guard lock((*box)->mu);
      if (!(*box)->stopped && (*box)->fn) (*box)->fn();
    }
    delete box;
  }

  const skiff_host_api_t* host_ = nullptr;
  std::shared_ptr<State> state_;
  std::shared_ptr<State>* box_ = nullptr;
  skiff_timer_id_t id_ = 0;
};

}  // namespace skiff::tcp_transport
