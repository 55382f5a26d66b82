#include "api/http_exchange.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>

#include "common/body_piece.hpp"

namespace skiff {

namespace asio = boost::asio;
namespace beast = boost::beast;

HttpExchange::HttpExchange(Stream& stream, beast::flat_buffer& buffer, HeaderParser&& header,
                           bool read_whole, uint64_t max_body,
                           std::chrono::milliseconds idle_timeout, std::string client_address)
    : stream_(stream),
      buffer_(buffer),
      idle_(stream.get_executor()),
      idle_timeout_(idle_timeout),
      client_(std::move(client_address)) {
  keep_alive_ = header.get().keep_alive();
  if (read_whole) {
    whole_.emplace(std::move(header));
    whole_->body_limit(max_body);
  } else {
    streamed_.emplace(std::move(header));
    streamed_->body_limit(std::numeric_limits<uint64_t>::max());
  }
}

http::request_header<>& HttpExchange::header() {
  if (whole_) return whole_->get().base();
  return streamed_->get().base();
}

asio::awaitable<boost::system::error_code> HttpExchange::read_body() {
  boost::system::error_code ec;
  if (!whole_ || whole_->is_done()) co_return ec;
  // Beast reads at most the buffer's free capacity per call (512 bytes when nothing is
  // reserved): room for a large piece keeps a 1 MiB body from taking 2000 reads.
  if (auto length = whole_->content_length(); length && *length > 4096)
    buffer_.reserve(std::min<uint64_t>(*length, kBodyPieceSize));
  idle_.arm(idle_timeout_, stream_.socket());
  co_await http::async_read(stream_, buffer_, *whole_,
                            asio::redirect_error(asio::use_awaitable, ec));
  idle_.disarm();
  if (ec) request_failed_ = true;
  co_return ec;
}

asio::awaitable<BodyPiece> HttpExchange::read_some() {
  if (whole_) co_return BodyPiece{true, whole_->get().body(), true, {}};
  auto& parser = *streamed_;
  if (request_failed_) co_return BodyPiece{false, {}, false, "the request body was cut off"};
  if (parser.is_done()) co_return BodyPiece{true, {}, true, {}};
  idle_.arm(idle_timeout_, stream_.socket());
  auto [ec, n] = co_await read_body_piece(stream_, buffer_, parser, chunk_);
  idle_.disarm();
  if (ec) {
    request_failed_ = true;
    std::string why = idle_.fired() ? "the app sent no body data for " +
                                          std::to_string(idle_timeout_.count()) + "ms"
                                    : ec.message();
    co_return BodyPiece{false, {}, false, "reading the request body failed: " + why};
  }
  co_return BodyPiece{true, std::string_view(chunk_.data(), n), parser.is_done(), {}};
}

bool HttpExchange::request_done() const {
  return !request_failed_ && (whole_ ? whole_->is_done() : streamed_->is_done());
}

bool HttpExchange::reusable() const {
  return keep_alive_ && request_done() && response_done_;
}

asio::awaitable<bool> HttpExchange::send(Response& res) {
  res.keep_alive(keep_alive_ && request_done());
  // 1xx, 204 and 304 answers carry no body and no Content-Length (RFC 9110 8.6).
  unsigned code = res.result_int();
  status_sent_ = code;
  if (code / 100 == 1 || code == 204 || code == 304)
    res.erase(http::field::content_length);
  else if (res.find(http::field::content_length) == res.end())
    res.prepare_payload();
  boost::system::error_code ec;
  co_await http::async_write(stream_, res, asio::redirect_error(asio::use_awaitable, ec));
  response_done_ = !ec;
  keep_alive_ = keep_alive_ && res.keep_alive();
  co_return !ec;
}

asio::awaitable<bool> HttpExchange::answer(unsigned status, const std::vector<Header>& headers,
                                           std::optional<uint64_t> length, std::string_view piece,
                                           bool last) {
  if (response_) co_return co_await write(piece, last);
  if (auto why = invalid_headers(headers)) {
    // Written as it is, a CR or LF in a header from the far side would forge headers, or a
    // whole answer, towards this app.
    spdlog::warn("refused an answer for {}: {}", client_, *why);
    auto res = dapr_error(502, "ERR_DIRECT_INVOKE", "the answer cannot be relayed: " + *why);
    co_await send(res);
    co_return false;
  }
  if (!last) co_return co_await start_response(status, headers, length, piece, false);
  Response res{static_cast<http::status>(status), 11};
  copy_end_to_end_headers(headers, res.base());
  if (header().method() == http::verb::head && length) res.content_length(*length);
  // HEAD, 1xx, 204 and 304 answers end with their head: bytes after it would be read as the
  // next answer on this connection.
  const bool bodiless =
      header().method() == http::verb::head || status / 100 == 1 || status == 204 || status == 304;
  if (!bodiless) res.body().assign(piece);
  co_return co_await send(res);
}

asio::awaitable<bool> HttpExchange::start_response(unsigned status,
                                                   const std::vector<Header>& headers,
                                                   std::optional<uint64_t> length,
                                                   std::string_view first, bool last) {
  if (status / 100 == 1 || status == 204 || status == 304 ||
      header().method() == http::verb::head) {
    // No body may follow: the whole answer goes out as one (send() leaves the framing right).
    Response res{static_cast<http::status>(status), header().version()};
    copy_end_to_end_headers(headers, res.base());
    if (length && header().method() == http::verb::head) res.content_length(*length);
    if (!co_await send(res)) co_return false;
    response_.emplace();  // later pieces of a body that cannot exist are dropped
    serializer_.reset();
    co_return true;
  }
  auto& res = response_.emplace(static_cast<http::status>(status), header().version());
  status_sent_ = status;
  copy_end_to_end_headers(headers, res.base());
  keep_alive_ = keep_alive_ && request_done();
  declared_length_ = length;
  if (length) {
    res.content_length(*length);
  } else if (header().version() >= 11) {
    res.chunked(true);
  } else {
    keep_alive_ = false;  // an HTTP/1.0 client learns the end from the connection closing
  }
  res.keep_alive(keep_alive_);
  serializer_.emplace(res);
  co_return co_await write(first, last);
}

asio::awaitable<bool> HttpExchange::write(std::string_view chunk, bool last) {
  if (!serializer_) co_return true;  // a bodiless answer, already sent whole
  body_written_ += chunk.size();
  if (declared_length_ &&
      (body_written_ > *declared_length_ || (last && body_written_ != *declared_length_))) {
    // More or fewer bytes than the Content-Length said would desynchronise the client's
    // connection: cut it instead (the head is out, so this is the only way to say it).
    spdlog::warn("answer for {} cut: its body does not match its Content-Length of {} bytes",
                 client_, *declared_length_);
    co_return false;
  }
  auto& body = response_->body();
  boost::system::error_code ec;
  // The head goes out with the first piece: one write for both.
  if (!chunk.empty() || !serializer_->is_header_done()) {
    // Never an empty non-null buffer: the chunked writer takes it for the end of the body.
    body.data = chunk.empty() ? nullptr : const_cast<char*>(chunk.data());
    body.size = chunk.size();
    body.more = true;
    co_await http::async_write(stream_, *serializer_,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return false;
  }
  if (last) {
    body.data = nullptr;
    body.size = 0;
    body.more = false;
    co_await http::async_write(stream_, *serializer_,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    response_done_ = true;
  }
  co_return true;
}

}  // namespace skiff
