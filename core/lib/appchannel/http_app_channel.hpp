// The callee sidecar's channel to its own app: HTTP/1.1 over a pool of keep-alive connections,
// with a connect timeout and a response timeout so a dead or stuck app never hangs a call.
// Bodies stream in both directions: an exchange sends the request head with the first body piece,
// then further pieces, and reads the answer piece by piece.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "call/body_source.hpp"
#include "common/body_piece.hpp"
#include "common/deadline.hpp"
#include "common/result.hpp"
#include "config/settings.hpp"
#include "http/messages.hpp"
#include "invoke/app_client.hpp"

namespace skiff {

class HttpAppChannel;

// One request to the app and its answer, on one connection (given back to the pool when both
// ended cleanly).
class AppExchange {
 public:
  using AppRequest = http::request<http::buffer_body>;
  explicit AppExchange(HttpAppChannel& channel);
  ~AppExchange();
  AppExchange(const AppExchange&) = delete;

  // Sends the request head with the first body piece. `req` (verb, target, headers; Content-Length
  // when known, else it goes chunked) and `first` must stay alive until read_head() returns: a
  // complete request (`last`) is sent again on a fresh connection when a pooled one turns out to
  // be closed.
  boost::asio::awaitable<Status> start(AppRequest& req, std::string_view first, bool last);
  boost::asio::awaitable<Status> write(std::string_view chunk, bool last);
  // A connection to the app exists (start() got past connecting).
  bool connected() const { return stream_ != nullptr; }
  // Waits for the answer's head (interim 1xx answers skipped).
  boost::asio::awaitable<Result<const http::response_header<>*>> read_head();
  // The next piece of the answer's body; the view is valid until the next call.
  boost::asio::awaitable<Result<BodyPiece>> read_some();

 private:
  boost::asio::awaitable<Status> connect_and_send();
  boost::asio::awaitable<Status> send_piece(std::string_view chunk, bool last);
  Error app_error(const boost::system::error_code& ec, const char* doing) const;
  Error length_mismatch(uint64_t actual) const;

  HttpAppChannel& channel_;
  std::unique_ptr<boost::beast::tcp_stream> stream_;
  bool reused_ = false;
  AppRequest* req_ = nullptr;
  std::string_view first_;
  bool whole_ = false;
  bool request_done_ = false;
  std::optional<uint64_t> declared_length_;  // the request's Content-Length
  uint64_t body_sent_ = 0;
  bool wrote_ = false;  // some of the request was handed to a connection to the app
  std::optional<http::request_serializer<http::buffer_body>> serializer_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  PieceBuffer chunk_;
  std::optional<Deadline> deadline_;
  bool failed_ = false;
};

class HttpAppChannel final : public AppClient {
 public:
  HttpAppChannel(boost::asio::io_context& io, const Settings& settings);
  std::string address() const { return host_ + ":" + std::to_string(port_); }
  bool configured() const { return port_ != 0; }
  // Serves one call from the transport as an HTTP/1.1 exchange with the app
  // (appchannel/http_app_call.cc).
  boost::asio::awaitable<void> serve(ServerCall& call, CallHead& head) override;
  bool speaks_grpc() const override { return false; }

 private:
  friend class AppExchange;
  using Stream = boost::beast::tcp_stream;
  boost::asio::awaitable<Result<std::unique_ptr<Stream>>> connect();
  std::unique_ptr<Stream> take_idle();
  void give_back(std::unique_ptr<Stream> stream);

  boost::asio::io_context& io_;
  std::string host_;
  uint16_t port_;
  uint64_t connect_timeout_ms_;
  uint64_t timeout_ms_;
  size_t max_idle_;
  std::mutex mu_;  // guards the idle list and the endpoints; held for a push or a pop only
  std::vector<std::unique_ptr<Stream>> idle_;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;
};

}  // namespace skiff
