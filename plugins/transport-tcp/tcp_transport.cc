#include "tcp_transport.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "client_call.hpp"
#include "server_conn.hpp"

namespace skiff::tcp_transport {

using sdk::str;
using sdk::view;

int64_t monotonic_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

TcpTransport::TcpTransport(const skiff_host_api_t* host, Settings settings)
    : host_(host), settings_(settings) {}

TcpTransport::~TcpTransport() {
  sweep_.stop();
  accept_retry_.stop();
  grace_.stop();
  if (listener_) host_->io_close(listener_);
  // Server connections are gone (shutdown completed); idle client connections close here.
  std::lock_guard lock(idle_mu_);
  idle_.clear();
}

void TcpTransport::log(int32_t level, const std::string& message) const {
  host_->log(host_->host, level, str("transport-tcp"), str(message));
}

skiff_status_t TcpTransport::listen(std::string_view address, uint16_t port,
                                    const skiff_inbound_handler_t* handler, uint16_t* bound_port,
                                    skiff_errbuf_t err) {
  if (listener_) {
    skiff_errbuf_set(err, "already listening");
    return SKIFF_ERR_FAILED_PRECONDITION;
  }
  HostPort hp{std::string(address), port == 0 ? uint16_t{1} : port};
  SocketAddress sa;
  if (!parse_ip(hp, sa)) {
    skiff_errbuf_set(err, "the listen address must be an IP address");
    return SKIFF_ERR_INVALID_ARGUMENT;
  }
  reinterpret_cast<sockaddr_in*>(&sa.storage)->sin_port = htons(port);  // same offset for v6
  int fd = ::socket(sa.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  auto fail = [&](const char* what) {
    std::string why = std::string(what) + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    skiff_errbuf_set(err, why.c_str());
    return SKIFF_ERR_UNAVAILABLE;
  };
  if (fd < 0) return fail("socket");
  // SO_REUSEADDR only: a restart may bind while old connections linger, but two sidecars never
  // share a port.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa.storage), sa.length) != 0)
    return fail("bind");
  if (::listen(fd, 1024) != 0) return fail("listen");
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  char why[256] = "";
  listener_ = host_->io_open(host_->host, fd, skiff_errbuf_t{why, sizeof why});
  if (!listener_) {
    ::close(fd);
    skiff_errbuf_set(err, why);
    return SKIFF_ERR_INTERNAL;
  }
  handler_ = *handler;
  listen_fd_ = fd;
  listener_open_ = true;
  *bound_port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_address_ = (sa.storage.ss_family == AF_INET6 ? "[" + hp.host + "]" : hp.host) + ":" +
                    std::to_string(*bound_port);
  // One timer checks every connection's deadline: a deadline is a store per state change
  // instead of a host timer per call. A tenth of the shortest timeout keeps each within 10%.
  uint64_t shortest = std::min(settings_.head_timeout_ms, settings_.idle_timeout_ms);
  if (settings_.body_timeout_ms > 0) shortest = std::min(shortest, settings_.body_timeout_ms);
  sweep_.start(host_, std::clamp<uint64_t>(shortest / 10, 10, 1000), [this] { sweep(); });
  wait_for_connections();
  return SKIFF_OK;
}

void TcpTransport::sweep() {
  const int64_t now = monotonic_ms();
  {
    // Under the lock a closing connection takes to leave the set: none is freed meanwhile.
    std::lock_guard lock(conns_mu_);
    for (auto* c : conns_) c->expire_if_due(now);
  }
  if (auto line = refused_log_.flush(now)) log_refused(*line);
  if (auto line = accept_log_.flush(now)) log_accept_failed(*line);
  if (auto line = handshake_log_.flush(now)) log_handshake_line(*line);
}

void TcpTransport::log_refused(const LogThrottle::Line& line) const {
  log(SKIFF_LOG_WARN, "refused " + std::to_string(line.count) +
                          (line.count == 1 ? " connection" : " connections") + " to " +
                          listen_address_ + " since the last such line: " + line.detail);
}

void TcpTransport::log_accept_failed(const LogThrottle::Line& line) const {
  log(SKIFF_LOG_WARN, "accept on " + listen_address_ + " failed " +
                          (line.count == 1 ? "once" : std::to_string(line.count) + " times") +
                          " since the last such line: " + line.detail);
}

void TcpTransport::log_handshake_line(const LogThrottle::Line& line) const {
  log(SKIFF_LOG_INFO, line.count == 1
                          ? "refused a connection: " + line.detail
                          : "refused " + std::to_string(line.count) +
                                " connections since the last such line: " + line.detail);
}

void TcpTransport::log_handshake_refused(std::string why) {
  if (auto line = handshake_log_.note(monotonic_ms(), std::move(why))) log_handshake_line(*line);
}

void TcpTransport::log_accept_failure(std::string why) {
  if (auto line = accept_log_.note(monotonic_ms(), std::move(why))) log_accept_failed(*line);
}

bool TcpTransport::admit() {
  size_t open;
  {
    std::lock_guard lock(conns_mu_);
    open = conns_.size();
  }
  if (static_cast<int64_t>(open) < settings_.max_connections) return true;
  auto line = refused_log_.note(
      monotonic_ms(), std::to_string(open) +
                          " connections are open, the limit set by "
                          "transport.config.max_connections (such lines come at most every " +
                          std::to_string(kWarnEveryMs / 1000) + "s)");
  if (line) log_refused(*line);
  return false;
}

void TcpTransport::on_acceptable(void* ud, skiff_status_t status, size_t, skiff_str_t message) {
  auto* self = static_cast<TcpTransport*>(ud);
  if (status == SKIFF_OK) return self->accept_all();
  if (status != SKIFF_ERR_CANCELLED) self->log_accept_failure(std::string(view(message)));
  self->wait_for_connections();
}

void TcpTransport::wait_for_connections() {
  // Under the lock shutdown() takes to set shutting_down_ and cancel the wait: a wait is either
  // registered before that cancel or never.
  std::unique_lock lock(conns_mu_);
  if (shutting_down_) {
    listener_open_ = false;
    return finish_shutdown_if_idle(lock);
  }
  host_->io_wait(listener_, SKIFF_IO_READABLE, &TcpTransport::on_acceptable, this);
}

void TcpTransport::accept_all() {
  while (!shutting_down_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // Out of descriptors or memory: the listener stays readable, so wait a little instead
      // of spinning, then try again. The warning is throttled: this repeats ten times a second.
      log_accept_failure(std::string(std::strerror(errno)) + " (retrying every 100ms)");
      accept_retry_.start(host_, 100, [this] { wait_for_connections(); });
      return;
    }
    if (!admit()) {
      // Accepted only to be closed at once: left in the backlog, the peer would wait for an
      // answer that never comes, and the listener would stay readable.
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    char why[256] = "";
    skiff_io_t* io = host_->io_open(host_->host, fd, skiff_errbuf_t{why, sizeof why});
    if (!io) {
      ::close(fd);
      log_accept_failure(why);
      continue;
    }
    auto* conn = new ServerConn(this, std::make_unique<Connection>(host_, io, fd));
    {
      std::lock_guard lock(conns_mu_);
      conns_.insert(conn);
    }
    conn->start();
  }
  wait_for_connections();
}

void TcpTransport::forget(ServerConn* conn) {
  std::lock_guard lock(conns_mu_);
  conns_.erase(conn);
}

void TcpTransport::report_shutdown_if_done() {
  std::unique_lock lock(conns_mu_);
  finish_shutdown_if_idle(lock);
}

void TcpTransport::finish_shutdown_if_idle(std::unique_lock<std::mutex>& lock) {
  if (!shutting_down_ || listener_open_ || !conns_.empty() || !shutdown_done_) return;
  auto done = shutdown_done_;
  auto* ud = shutdown_user_data_;
  shutdown_done_ = nullptr;
  lock.unlock();
  done(ud, SKIFF_OK, str(""));
}

void TcpTransport::shutdown(skiff_done_fn done, void* user_data) {
  std::unique_lock lock(conns_mu_);
  if (shutting_down_.exchange(true) || !listener_) {
    lock.unlock();
    return done(user_data, SKIFF_OK, str(""));
  }
  shutdown_done_ = done;
  shutdown_user_data_ = user_data;
  host_->io_cancel(listener_);  // on_acceptable sees CANCELLED and stops accepting
  for (auto* c : conns_) c->close_if_idle();
  // Calls still running get the grace period, then their connections are cut.
  grace_.start(host_, settings_.shutdown_grace_ms, [this] {
    std::lock_guard lock(conns_mu_);
    for (auto* c : conns_) c->cut();
  });
}

std::unique_ptr<Connection> TcpTransport::take_idle(const std::string& address) {
  const int64_t now = monotonic_ms();
  const auto max_age = static_cast<int64_t>(settings_.idle_timeout_ms / 2);
  for (;;) {
    Idle idle;
    {
      std::lock_guard lock(idle_mu_);
      auto it = idle_.find(address);
      if (it == idle_.end() || it->second.empty()) return nullptr;
      idle = std::move(it->second.back());
      it->second.pop_back();
    }
    // Else the peer closed it while idle, or may be about to: drop it and go on.
    if (now - idle.since_ms < max_age && idle.conn->reusable()) return std::move(idle.conn);
  }
}

void TcpTransport::give_back(const std::string& address, std::unique_ptr<Connection> conn) {
  std::lock_guard lock(idle_mu_);
  auto& idle = idle_[address];
  if (static_cast<int64_t>(idle.size()) < settings_.max_idle_connections)
    idle.push_back(Idle{std::move(conn), monotonic_ms()});
}

skiff_status_t TcpTransport::call_start(std::string_view address, const skiff_call_head_t* head,
                                        skiff_client_call_t** call, skiff_errbuf_t err) {
  if (address.empty()) {
    skiff_errbuf_set(err, "empty peer address");
    return SKIFF_ERR_INVALID_ARGUMENT;
  }
  std::string head_frame(wire::kPreface);  // a reused connection skips it
  wire::append_call_head(head_frame, *head);
  if (head_frame.size() > wire::kPreface.size() + wire::kFrameHeaderSize + wire::kMaxHeadFrame) {
    skiff_errbuf_set(err, "call head larger than 1 MiB");
    return SKIFF_ERR_RESOURCE_EXHAUSTED;
  }
  auto* c = new ClientCall(this, std::string(address), std::move(head_frame), *head);
  *call = reinterpret_cast<skiff_client_call_t*>(c);
  return SKIFF_OK;
}

}  // namespace skiff::tcp_transport
