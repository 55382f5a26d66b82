#include "tcp_transport.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "client_call.hpp"
#include "server_conn.hpp"

namespace skiff::tcp_transport {

using sdk::str;
using sdk::view;

TcpTransport::TcpTransport(const skiff_host_api_t* host, Settings settings)
    : host_(host), settings_(settings) {}

TcpTransport::~TcpTransport() {
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
  wait_for_connections();
  return SKIFF_OK;
}

void TcpTransport::on_acceptable(void* ud, skiff_status_t status, size_t, skiff_str_t message) {
  auto* self = static_cast<TcpTransport*>(ud);
  if (status == SKIFF_OK) return self->accept_all();
  if (status != SKIFF_ERR_CANCELLED)
    self->log(SKIFF_LOG_WARN, "accept: " + std::string(view(message)));
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
      // of spinning, then try again.
      log(SKIFF_LOG_WARN, std::string("accept: ") + std::strerror(errno));
      accept_retry_.start(host_, 100, [this] { wait_for_connections(); });
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    char why[256] = "";
    skiff_io_t* io = host_->io_open(host_->host, fd, skiff_errbuf_t{why, sizeof why});
    if (!io) {
      ::close(fd);
      log(SKIFF_LOG_WARN, std::string("accept: ") + why);
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
  for (;;) {
    std::unique_ptr<Connection> conn;
    {
      std::lock_guard lock(idle_mu_);
      auto it = idle_.find(address);
      if (it == idle_.end() || it->second.empty()) return nullptr;
      conn = std::move(it->second.back());
      it->second.pop_back();
    }
    if (conn->reusable()) return conn;  // else the peer closed it while idle: drop and go on
  }
}

void TcpTransport::give_back(const std::string& address, std::unique_ptr<Connection> conn) {
  std::lock_guard lock(idle_mu_);
  auto& idle = idle_[address];
  if (static_cast<int64_t>(idle.size()) < settings_.max_idle_connections)
    idle.push_back(std::move(conn));
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
  auto* c = new ClientCall(this, std::string(address), std::move(head_frame), head->timeout_ms);
  *call = reinterpret_cast<skiff_client_call_t*>(c);
  return SKIFF_OK;
}

}  // namespace skiff::tcp_transport
