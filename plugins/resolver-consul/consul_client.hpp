// A small blocking HTTP/1.1 client for Consul's agent API, for the plugin's own threads only. Each
// request uses a fresh connection (the agent is local and requests are rare: registrations and
// one long-polling query per watched app). A request in progress can be aborted from another
// thread, which is how watches stop at shutdown.
#ifndef SKIFF_RESOLVER_CONSUL_CLIENT_HPP
#define SKIFF_RESOLVER_CONSUL_CLIENT_HPP

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <mutex>
#include <string>

namespace skiff::consul {

namespace asio = boost::asio;
namespace http = boost::beast::http;

struct HttpResult {
  int status = 0;  // 0: no answer (see error)
  std::string body;
  uint64_t index = 0;  // X-Consul-Index
  std::string error;
};

// Lets another thread abort the request a thread is blocked in.
class Abort {
 public:
  void attach(int fd) {
    std::lock_guard lock(mu_);
    fd_ = fd;
    if (aborted_) ::shutdown(fd_, SHUT_RDWR);
  }
  void detach() {
    std::lock_guard lock(mu_);
    fd_ = -1;
  }
  void abort() {
    std::lock_guard lock(mu_);
    aborted_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  bool aborted() const {
    std::lock_guard lock(mu_);
    return aborted_;
  }

 private:
  mutable std::mutex mu_;
  int fd_ = -1;
  bool aborted_ = false;
};

class ConsulClient {
 public:
  ConsulClient(std::string host, std::string port, std::string token)
      : host_(std::move(host)), port_(std::move(port)), token_(std::move(token)) {}

  std::string address() const { return host_ + ":" + port_; }

  HttpResult request(http::verb verb, const std::string& target, const std::string& body,
                     std::chrono::milliseconds timeout, Abort* abort = nullptr) const {
    HttpResult out;
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    boost::system::error_code ec;
    asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host_, port_, ec);
    if (!ec) asio::connect(socket, endpoints, ec);
    if (ec) {
      out.error = "cannot connect to Consul at " + address() + ": " + ec.message();
      return out;
    }
    // Blocking socket operations time out instead of hanging on a silent agent.
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (abort) abort->attach(socket.native_handle());
    struct Detach {
      Abort* a;
      ~Detach() {
        if (a) a->detach();
      }
    } detach{abort};

    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, host_);
    req.set(http::field::user_agent, "skiff-resolver-consul");
    if (!token_.empty()) req.set("X-Consul-Token", token_);
    if (verb != http::verb::get) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    http::write(socket, req, ec);
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (!ec) http::read(socket, buffer, parser, ec);
    if (ec) {
      out.error =
          abort && abort->aborted() ? "aborted" : "Consul at " + address() + ": " + ec.message();
      return out;
    }
    auto& res = parser.get();
    out.status = res.result_int();
    out.body = std::move(res.body());
    if (auto it = res.find("X-Consul-Index"); it != res.end())
      out.index = std::strtoull(std::string(it->value()).c_str(), nullptr, 10);
    return out;
  }

 private:
  std::string host_, port_, token_;
};

}  // namespace skiff::consul

#endif  // SKIFF_RESOLVER_CONSUL_CLIENT_HPP
