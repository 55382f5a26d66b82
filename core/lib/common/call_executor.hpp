// The executor a connection or a call runs on. With several loop threads it is a strand, so that
// its handlers never run concurrently; with one loop thread (the default) they cannot anyway, and
// a strand would only add an allocation per call and a dispatch per handler.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

namespace skiff {

namespace detail {
inline std::atomic<bool> single_loop_thread{false};
}

// Set once at start-up, before any connection or call exists.
inline void set_single_loop_thread(bool single) {
  detail::single_loop_thread = single;
}

inline boost::asio::any_io_executor call_executor(boost::asio::io_context& io) {
  if (detail::single_loop_thread.load(std::memory_order_relaxed)) return io.get_executor();
  return boost::asio::make_strand(io);
}

}  // namespace skiff
