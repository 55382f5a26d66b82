// The HTTP server of the exposition: GET /metrics on its own thread, so that a scrape (or a
// client that connects and stalls) never runs on the sidecar's event loop.
#ifndef SKIFF_OBSERVER_PROMETHEUS_SERVER_HPP
#define SKIFF_OBSERVER_PROMETHEUS_SERVER_HPP

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace skiff::prometheus {

class MetricsServer {
 public:
  // Writes the body of one scrape.
  using Render = std::function<void(std::string& body)>;

  // Binds and listens at once (an error throws std::runtime_error saying where and why), then
  // serves from its own thread until destroyed.
  MetricsServer(const std::string& address, uint16_t port, Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const { return port_; }

  // At most this many connections are served at once; more are closed on accept.
  static constexpr int kMaxConnections = 64;

 private:
  void accept();

  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  boost::asio::steady_timer retry_{io_};
  Render render_;
  uint16_t port_ = 0;
  std::shared_ptr<std::atomic<int>> connections_ = std::make_shared<std::atomic<int>>(0);
  std::thread worker_;
};

}  // namespace skiff::prometheus

#endif
