#include "server.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <stdexcept>

#include "exposition.hpp"

namespace skiff::prometheus {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// A keep-alive connection may idle between scrapes; a request must arrive whole soon after it
// starts, so that stalled connections give their place back quickly.
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kDrainTimeout = std::chrono::seconds(1);
constexpr size_t kHeaderLimit = 8 * 1024;

// One client connection: requests in order, keep-alive, each answered from a fresh snapshot.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const MetricsServer::Render& render,
          std::shared_ptr<std::atomic<int>> connections)
      : stream_(std::move(socket)), render_(render), connections_(std::move(connections)) {}
  ~Session() { connections_->fetch_sub(1, std::memory_order_relaxed); }

  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(0);  // a scrape has no body
    stream_.expires_after(kIdleTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted)
      return close();
    if (ec) {
      // Malformed or too large: a plain 400, then the connection ends.
      refuse_ = true;
      answer(http::status::bad_request, "bad request: " + ec.message() + "\n", false);
      return;
    }
    const auto& req = parser_->get();
    std::string_view target = req.target();
    std::string_view path = target.substr(0, target.find('?'));
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      answer(http::status::method_not_allowed, "only GET and HEAD\n", req.keep_alive(),
             "GET, HEAD");
      return;
    }
    if (path != "/metrics") {
      answer(http::status::not_found, "metrics are at /metrics\n", req.keep_alive());
      return;
    }
    std::string body;
    render_(body);
    answer(http::status::ok, std::move(body), req.keep_alive(), "", kContentType,
           req.method() == http::verb::head);
  }

  void answer(http::status status, std::string body, bool keep_alive, std::string_view allow = "",
              std::string_view content_type = "text/plain; charset=utf-8", bool head = false) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::content_type, content_type);
    if (!allow.empty()) res->set(http::field::allow, allow);
    res->keep_alive(keep_alive);
    const size_t length = body.size();
    if (!head) res->body() = std::move(body);
    res->prepare_payload();
    if (head) res->content_length(length);
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (ec) return self->close();
                        if (self->refuse_) return self->drain();
                        if (!keep_alive) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  // After refusing a request that was not read to its end: closing with unread bytes would send
  // a reset, and the client could lose the 400 it has not read yet. Read and drop what it still
  // sends, for a moment, then close.
  void drain() {
    close();
    stream_.expires_after(kDrainTimeout);
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (!ec) self->drain_more();
                            });
  }
  void drain_more() {
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (!ec) self->drain_more();
                            });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  const MetricsServer::Render& render_;
  std::shared_ptr<std::atomic<int>> connections_;
  bool refuse_ = false;
  char scratch_[4096];
};

}  // namespace

MetricsServer::MetricsServer(const std::string& address, uint16_t port, Render render)
    : render_(std::move(render)) {
  beast::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) throw std::runtime_error("\"" + address + "\" is not an IP address");
  tcp::endpoint endpoint(ip, port);
  const std::string where =
      (ip.is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  accept();
  worker_ = std::thread([this] { io_.run(); });
}

MetricsServer::~MetricsServer() {
  io_.stop();
  if (worker_.joinable()) worker_.join();
}

void MetricsServer::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors, say: try again shortly instead of spinning on the error.
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([this](beast::error_code waited) {
        if (!waited) accept();
      });
      return;
    }
    {
      if (connections_->fetch_add(1, std::memory_order_relaxed) >= kMaxConnections) {
        connections_->fetch_sub(1, std::memory_order_relaxed);
        beast::error_code ignored;
        socket.close(ignored);  // bounds the memory a flood of connections can take
      } else {
        std::make_shared<Session>(std::move(socket), render_, connections_)->read();
      }
    }
    accept();
  });
}

}  // namespace skiff::prometheus
