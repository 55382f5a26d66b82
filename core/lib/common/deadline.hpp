// Deadline: cancels a socket's pending operations when a time limit passes. One timer per
// exchange; Beast's per-operation stream timeouts arm a timer for every read_some, which
// doubled the cost of reading a 200 KB body.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>

namespace skiff {

class Deadline {
 public:
  // `executor` must be the one the socket's operations complete on (its strand).
  template <typename Executor>
  explicit Deadline(const Executor& executor) : timer_(executor) {}
  ~Deadline() { disarm(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  // After `limit`, the socket's pending operations complete with operation_aborted.
  void arm(std::chrono::steady_clock::duration limit, boost::asio::ip::tcp::socket& socket) {
    disarm();
    state_ = std::make_shared<State>(State{&socket, false});
    timer_.expires_after(limit);
    timer_.async_wait([state = state_](const boost::system::error_code& ec) {
      if (ec || state->socket == nullptr) return;
      state->fired = true;
      boost::system::error_code ignored;
      state->socket->cancel(ignored);
    });
  }
  void disarm() {
    if (!state_) return;
    state_->socket = nullptr;  // a handler already queued must not touch the socket any more
    timer_.cancel();
  }
  // True when the limit passed while armed.
  bool fired() const { return state_ && state_->fired; }

 private:
  struct State {
    boost::asio::ip::tcp::socket* socket;
    bool fired;
  };
  boost::asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace skiff
