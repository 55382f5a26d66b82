// transport-tcp: carries invocations between sidecars as framed messages over plain TCP, one call
// at a time per pooled connection (see wire.hpp). Sockets are served by the host's event loop
// (ABI 1.1 io functions): no thread of its own on the request path and no hop between threads.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "connection.hpp"
#include "log_throttle.hpp"
#include "names.hpp"
#include "safe_timer.hpp"
#include "skiff/plugin.hpp"

namespace skiff::tcp_transport {

struct Settings {
  uint64_t connect_timeout_ms = 5000;
  uint64_t shutdown_grace_ms = 5000;
  int64_t max_idle_connections = 64;  // per peer sidecar
  // Server side: what a peer may hold without making progress (docs/configuration.md).
  uint64_t head_timeout_ms = 10000;  // preface and head, from their first byte
  uint64_t idle_timeout_ms = 60000;  // between calls, until the next head's first byte
  uint64_t body_timeout_ms = 60000;  // a call without bytes either way; 0: none
  int64_t max_connections = 10000;   // server connections at once on the listener
};

// Milliseconds of the monotonic clock, for deadlines.
int64_t monotonic_ms();

class ServerConn;

class TcpTransport {
 public:
  TcpTransport(const skiff_host_api_t* host, Settings settings);
  ~TcpTransport();

  skiff_status_t listen(std::string_view address, uint16_t port,
                        const skiff_inbound_handler_t* handler, uint16_t* bound_port,
                        skiff_errbuf_t err);
  void shutdown(skiff_done_fn done, void* user_data);
  skiff_status_t call_start(std::string_view address, const skiff_call_head_t* head,
                            skiff_client_call_t** call, skiff_errbuf_t err);

  // Client side: idle connections to a peer.
  // A pooled connection is reused only while idle for less than half of idle_timeout: a peer
  // with the same setting then never closes one just as a call is being sent on it.
  std::unique_ptr<Connection> take_idle(const std::string& address);
  void give_back(const std::string& address, std::unique_ptr<Connection> conn);

  // Server side.
  bool shutting_down() const { return shutting_down_; }
  // mTLS through the host (set_credentials was given credentials): every connection starts
  // with a handshake.
  bool tls() const { return tls_.load(std::memory_order_relaxed); }
  void set_tls(bool on) { tls_.store(on, std::memory_order_relaxed); }
  void forget(ServerConn* conn);   // the connection is closing
  void report_shutdown_if_done();  // after a connection closed

  const skiff_host_api_t* host() const { return host_; }
  const Settings& settings() const { return settings_; }
  const skiff_inbound_handler_t& handler() const { return handler_; }
  NameLookup& names() { return names_; }
  void log(int32_t level, const std::string& message) const;
  // A TLS handshake that failed (a plaintext client, a foreign certificate): throttled, since
  // anyone who can reach the port can cause one.
  void log_handshake_refused(std::string why);

 private:
  static void on_acceptable(void* self, skiff_status_t status, size_t, skiff_str_t message);
  void accept_all();
  bool admit();  // false, and logged, when the listener is at max_connections
  void sweep();  // closes server connections past their deadlines, reports throttled warnings
  void log_accept_failure(std::string why);
  void log_refused(const LogThrottle::Line& line) const;
  void log_accept_failed(const LogThrottle::Line& line) const;
  void log_handshake_line(const LogThrottle::Line& line) const;
  void wait_for_connections();
  void finish_shutdown_if_idle(std::unique_lock<std::mutex>& lock);

  const skiff_host_api_t* host_;
  Settings settings_;
  skiff_inbound_handler_t handler_{};
  skiff_io_t* listener_ = nullptr;
  int listen_fd_ = -1;          // owned by listener_
  std::string listen_address_;  // for log lines
  SafeTimer accept_retry_;      // after EMFILE and the like
  SafeTimer grace_;
  PeriodicTimer sweep_;
  static constexpr int64_t kWarnEveryMs = 5000;
  LogThrottle refused_log_{kWarnEveryMs};
  LogThrottle accept_log_{kWarnEveryMs};
  LogThrottle handshake_log_{kWarnEveryMs};
  NameLookup names_;

  struct Idle {
    std::unique_ptr<Connection> conn;
    int64_t since_ms;
  };
  std::mutex idle_mu_;  // held only to take or return an idle connection
  std::unordered_map<std::string, std::vector<Idle>> idle_;

  std::mutex conns_mu_;  // held when a connection is accepted or closes, never per call
  std::unordered_set<ServerConn*> conns_;
  std::atomic<bool> shutting_down_{false};
  bool listener_open_ = false;
  skiff_done_fn shutdown_done_ = nullptr;
  void* shutdown_user_data_ = nullptr;
  std::atomic<bool> tls_{false};
};

}  // namespace skiff::tcp_transport
