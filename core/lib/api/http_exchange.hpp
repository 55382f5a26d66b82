// One request on an app's HTTP connection and the answer to it. A request body with a known
// length up to api.max_body_size is read whole (so the call can be retried on another instance);
// a larger or chunked one is read piece by piece while the call runs, so any size flows through
// in bounded memory with the app's connection as the backpressure. Answers go out whole or as a
// stream (Content-Length when known, else chunked).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>
#include <optional>

#include "call/body_source.hpp"
#include "call/call_context.hpp"
#include "common/body_piece.hpp"
#include "common/deadline.hpp"
#include "http/messages.hpp"

namespace skiff {

class HttpExchange final : public BodySource {
 public:
  using Stream = boost::beast::tcp_stream;
  using HeaderParser = http::request_parser<http::empty_body>;

  // `header` has read the request head. `idle_timeout` bounds each pause of a streamed body.
  HttpExchange(Stream& stream, boost::beast::flat_buffer& buffer, HeaderParser&& header,
               bool read_whole, uint64_t max_body, std::chrono::milliseconds idle_timeout,
               std::string client_address);

  // Reads a whole body (for read_whole exchanges; others return at once).
  boost::asio::awaitable<boost::system::error_code> read_body();

  http::request_header<>& header();
  const std::string& client_address() const { return client_; }
  // True when the body is held whole in body().
  bool whole() const { return whole_.has_value(); }
  std::string& body() { return whole_->get().body(); }
  // The next piece of a streamed body.
  boost::asio::awaitable<BodyPiece> read_some() override;

  // Sends a complete response.
  boost::asio::awaitable<bool> send(Response& res);
  // Sends the next piece of an answer. A first piece that is also the last goes out as one
  // complete answer with an exact Content-Length (for HEAD, `length`: the size a GET would have);
  // otherwise the first piece starts a stream, with `length` as its Content-Length when known,
  // else chunked. `status`, `headers` and `length` are read with the first piece only.
  boost::asio::awaitable<bool> answer(unsigned status, const std::vector<Header>& headers,
                                      std::optional<uint64_t> length, std::string_view piece,
                                      bool last);
  // The connection can carry another request: the request was read to its end and the answer
  // was written completely.
  bool reusable() const;
  // The request was read to its end.
  bool request_done() const;
  // The status of the answer that went out (or started to), 0 before one did.
  unsigned status_sent() const { return status_sent_; }
  // The request's call, from when its head was read: the Router makes its server span, metrics
  // and access log line from it once the answer is out.
  CallContext& context() { return context_; }

 private:
  boost::asio::awaitable<bool> start_response(unsigned status, const std::vector<Header>& headers,
                                              std::optional<uint64_t> length,
                                              std::string_view first, bool last);
  boost::asio::awaitable<bool> write(std::string_view chunk, bool last);

  Stream& stream_;
  boost::beast::flat_buffer& buffer_;
  std::optional<http::request_parser<http::string_body>> whole_;
  std::optional<http::request_parser<http::buffer_body>> streamed_;
  PieceBuffer chunk_;
  Deadline idle_;
  std::chrono::milliseconds idle_timeout_;
  std::string client_;
  bool request_failed_ = false;
  bool response_done_ = false;
  bool keep_alive_ = true;
  unsigned status_sent_ = 0;
  CallContext context_{CallIngress::kHttpApi};
  std::optional<uint64_t> declared_length_;  // of a streamed answer
  uint64_t body_written_ = 0;
  std::optional<http::response<http::buffer_body>> response_;
  std::optional<http::response_serializer<http::buffer_body>> serializer_;
};

}  // namespace skiff
