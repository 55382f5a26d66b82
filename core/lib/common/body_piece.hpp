// Reading a streamed HTTP body piece by piece through a Beast parser with a buffer_body: the
// app-facing server, the app channel and external endpoints all stream bodies this way.
#pragma once

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <utility>

namespace skiff {

inline constexpr size_t kBodyPieceSize = 128 * 1024;

// Where body pieces land: as large as the body still needs, up to kBodyPieceSize. A 1 KiB body
// then costs 1 KiB, not 128 KiB allocated, faulted in and given back per request.
class PieceBuffer {
 public:
  char* room_for(size_t n) {
    if (size_ < n) {
      data_.reset(new char[n]);
      size_ = n;
    }
    return data_.get();
  }
  const char* data() const { return data_.get(); }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
};

// Reads the next piece of the body into `piece`. Returns the bytes read, which are 0 only when
// the body ended (parser.is_done()), or the read's error.
template <typename Stream, typename Parser>
boost::asio::awaitable<std::pair<boost::system::error_code, size_t>> read_body_piece(
    Stream& stream, boost::beast::flat_buffer& buffer, Parser& parser, PieceBuffer& piece) {
  namespace http = boost::beast::http;
  size_t room = kBodyPieceSize;
  if (auto left = parser.content_length_remaining(); left && *left > 0)
    room = static_cast<size_t>(std::min<uint64_t>(*left, kBodyPieceSize));
  char* at = piece.room_for(room);
  // Beast reads at most the buffer's free capacity per call: without room, 512 bytes at a time.
  buffer.reserve(room);
  boost::system::error_code ec;
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = at;
    body.size = room;
    co_await http::async_read_some(stream, buffer, parser,
                                   boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return std::pair{ec, size_t{0}};
    if (size_t n = room - body.size; n > 0) co_return std::pair{ec, n};
  }
  co_return std::pair{ec, size_t{0}};
}

}  // namespace skiff
