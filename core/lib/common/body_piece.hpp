// Reading a streamed HTTP body piece by piece through a Beast parser with a buffer_body: the
// app-facing server, the app channel and external endpoints all stream bodies this way.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <utility>

namespace skiff {

inline constexpr size_t kBodyPieceSize = 128 * 1024;

// Reads the next piece of the body into `piece` (kBodyPieceSize bytes of room). Returns the bytes
// read, which are 0 only when the body ended (parser.is_done()), or the read's error.
template <typename Stream, typename Parser>
boost::asio::awaitable<std::pair<boost::system::error_code, size_t>> read_body_piece(
    Stream& stream, boost::beast::flat_buffer& buffer, Parser& parser, char* piece) {
  namespace http = boost::beast::http;
  // Beast reads at most the buffer's free capacity per call: without room, 512 bytes at a time.
  buffer.reserve(kBodyPieceSize);
  boost::system::error_code ec;
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = piece;
    body.size = kBodyPieceSize;
    co_await http::async_read_some(stream, buffer, parser,
                                   boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return std::pair{ec, size_t{0}};
    if (size_t n = kBodyPieceSize - body.size; n > 0) co_return std::pair{ec, n};
  }
  co_return std::pair{ec, size_t{0}};
}

}  // namespace skiff
