// Host timers that can be stopped from any thread, even while their callback runs: after stop()
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

// The same, firing every period until stopped. One host timer per period, whatever the number
// of things it checks: host timers are not meant for the per-call path. fn must not call stop().
class PeriodicTimer {
 public:
  PeriodicTimer() = default;
  ~PeriodicTimer() { stop(); }
  PeriodicTimer(const PeriodicTimer&) = delete;
  PeriodicTimer& operator=(const PeriodicTimer&) = delete;

  void start(const skiff_host_api_t* host, uint64_t period_ms, std::function<void()> fn) {
    stop();
    auto state = std::make_shared<State>();
    state->host = host;
    state->period_ms = period_ms;
    state->fn = std::move(fn);
    std::lock_guard lock(state->mu);
    arm(state);
    state_ = std::move(state);
  }

  void stop() {
    if (!state_) return;
    skiff_timer_id_t id;
    std::shared_ptr<State>* box;
    {
      std::lock_guard lock(state_->mu);  // waits for a running callback, which re-arms
      state_->stopped = true;
      state_->fn = nullptr;
      id = state_->id;
      box = state_->box;
    }
    // The last armed timer: cancelled before it fired, or it fires, sees `stopped` and ends.
    if (state_->host->timer_cancel(state_->host->host, id)) delete box;
    state_.reset();
  }

 private:
  struct State {
    std::mutex mu;
    bool stopped = false;
    std::function<void()> fn;
    const skiff_host_api_t* host = nullptr;
    uint64_t period_ms = 0;
    skiff_timer_id_t id = 0;
    std::shared_ptr<State>* box = nullptr;  // the armed timer's; freed by whoever ends it
  };
  static void arm(const std::shared_ptr<State>& state) {  // under state->mu
    state->box = new std::shared_ptr<State>(state);
    state->id = state->host->timer_start(state->host->host, state->period_ms, &PeriodicTimer::fire,
                                         state->box);
  }
  static void fire(void* ud) {
    auto* box = static_cast<std::shared_ptr<State>*>(ud);
    std::shared_ptr<State> state = std::move(*box);
    delete box;  // stop() no longer frees it: timer_cancel answers 0 for a timer that fired
    std::lock_guard lock(state->mu);
    if (state->stopped) return;
    state->fn();
    arm(state);
  }

  std::shared_ptr<State> state_;
};

}  // namespace skiff::tcp_transport
