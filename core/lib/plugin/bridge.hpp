// Turns a plugin's "completion callback + user data" into an awaitable: the plugin may complete on
// any thread, even before the start function returns; the result is copied and the coroutine is
// resumed on its own executor.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "call/call_head.hpp"
#include "skiff/skiff.h"

namespace skiff {

inline std::string_view view(skiff_str_t s) {
  return s.len ? std::string_view(s.ptr, s.len) : std::string_view();
}
inline skiff_str_t str(std::string_view s) {
  return skiff_str_t{s.data(), s.size()};
}

template <typename R>
struct Completion {
  virtual void complete(R result) = 0;

 protected:
  ~Completion() = default;
};

template <typename R, typename Handler>
struct CompletionFor final : Completion<R> {
  explicit CompletionFor(Handler h) : handler(std::move(h)) {}
  void complete(R result) override {
    auto ex = boost::asio::get_associated_executor(handler);
    boost::asio::post(ex, [h = std::move(handler), r = std::move(result)]() mutable {
      std::move(h)(std::move(r));
    });
    delete this;
  }
  Handler handler;
};

// `start(Completion<R>*)` hands the completion to the plugin; the coroutine resumes with R.
template <typename R, typename Start>
boost::asio::awaitable<R> await_completion(Start start) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(R)>(
      [](auto handler, Start start) {
        using H = decltype(handler);
        start(static_cast<Completion<R>*>(new CompletionFor<R, H>(std::move(handler))));
      },
      boost::asio::use_awaitable, std::move(start));
}

// Results of the ABI's completion types, copied out of the borrowed views.
struct DoneResult {
  skiff_status_t status = SKIFF_OK;
  std::string message;
};
struct ResolveResult {
  skiff_status_t status = SKIFF_OK;
  std::vector<std::string> addresses;
  std::string message;
};
struct ReadResult {
  skiff_status_t status = SKIFF_OK;
  std::string chunk;
  bool end_of_body = false;
  std::string message;
};
struct HeadResult {
  skiff_status_t status = SKIFF_OK;
  ResponseHead head;
  std::string message;
};

// C trampolines: the user data is a Completion<R>*.
void complete_done(void* ud, skiff_status_t status, skiff_str_t message);
void complete_resolve(void* ud, skiff_status_t status, const skiff_str_t* addresses, size_t count,
                      skiff_str_t message);
void complete_read(void* ud, skiff_status_t status, skiff_bytes_t chunk, int32_t end_of_body,
                   skiff_str_t message);
void complete_head(void* ud, skiff_status_t status, const skiff_response_head_t* head,
                   skiff_str_t message);

std::vector<Header> copy_headers(const skiff_header_t* headers, size_t count);
// Borrowed C views of C++ headers; valid while `headers` lives unchanged.
std::vector<skiff_header_t> header_views(const std::vector<Header>& headers);

}  // namespace skiff
