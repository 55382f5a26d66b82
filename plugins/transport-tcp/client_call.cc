#include "client_call.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tcp_transport.hpp"

namespace skiff::tcp_transport {

using sdk::str;

ClientCall::ClientCall(TcpTransport* transport, std::string address, std::string head_frame,
                       const skiff_call_head_t& head)
    : transport_(transport),
      address_(std::move(address)),
      peer_app_(sdk::view(head.target_app_id)),
      peer_namespace_(sdk::view(head.target_namespace)),
      pool_key_(transport_->tls() ? address_ + "\n" + peer_namespace_ + "\n" + peer_app_
                                  : address_),
      head_frame_(std::move(head_frame)) {
  if (head.timeout_ms > 0)
    deadline_.start(transport_->host(), head.timeout_ms,
                    [this] { interrupt(SKIFF_ERR_DEADLINE_EXCEEDED); });
}

skiff_status_t ClientCall::outcome(skiff_status_t status) const {
  auto why = interrupted_.load();
  if (why != SKIFF_OK) return why;
  // UNAVAILABLE promises the host that nothing was delivered, so that a retry is safe. Once a
  // write went out, the peer may be running the call: it is lost, not unavailable.
  if (status == SKIFF_ERR_UNAVAILABLE && sent_any()) return SKIFF_ERR_UNKNOWN;
  return status;
}

std::string ClientCall::describe(std::string_view error) const {
  switch (interrupted_.load()) {
    case SKIFF_ERR_DEADLINE_EXCEEDED:
      return "deadline exceeded";
    case SKIFF_ERR_CANCELLED:
      return "call cancelled";
    default:
      return "sidecar at " + address_ + ": " + std::string(error) +
             (sent_any() ? " (the connection broke after the request was sent; not retried)" : "");
  }
}

// ---- connecting ----

bool ClientCall::connection_ready(bool for_write) {
  std::unique_lock lock(mu_);
  if (state_ == State::kReady || state_ == State::kFailed) return true;  // start_* fails it
  if (state_ == State::kIdle) {
    if (auto idle = transport_->take_idle(pool_key_)) {
      conn_ = std::move(idle);
      conn_->set_owner(this);
      reused_ = true;
      state_ = State::kReady;
      return true;
    }
  }
  (for_write ? write_parked_ : read_head_parked_) = true;
  if (state_ == State::kConnecting) return false;
  state_ = State::kConnecting;
  lock.unlock();
  HostPort hp;
  SocketAddress ip;
  if (!split_host_port(address_, hp)) {
    connected(nullptr, "not a host:port address");
  } else if (parse_ip(hp, ip)) {
    connect_to({ip}, 0, "");
  } else {
    // The answer may come after a cancel let the host release this call: it goes through a
    // ticket that release() voids.
    auto ticket = std::make_shared<LookupTicket>();
    ticket->call = this;
    {
      std::lock_guard lock(mu_);
      lookup_ = ticket;
    }
    transport_->names().lookup(hp, [ticket](std::vector<SocketAddress> found, std::string error) {
      std::lock_guard lock(ticket->mu);
      if (!ticket->call) return;
      ClientCall* self = ticket->call;
      {
        std::lock_guard call_lock(self->mu_);
        self->lookup_.reset();
      }
      if (found.empty()) return self->connected(nullptr, error);
      self->connect_to(std::move(found), 0, "");
    });
  }
  return false;
}

void ClientCall::connect_to(std::vector<SocketAddress> addresses, size_t index,
                            std::string last_error) {
  for (; index < addresses.size(); ++index) {
    if (interrupted_ != SKIFF_OK) return connected(nullptr, "interrupted");
    const auto& a = addresses[index];
    int fd = ::socket(a.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length);
    if (rc != 0 && errno != EINPROGRESS) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    char why[256] = "";
    const auto* host = transport_->host();
    skiff_io_t* io = host->io_open(host->host, fd, skiff_errbuf_t{why, sizeof why});
    if (io == nullptr) {
      last_error = why;
      ::close(fd);
      continue;
    }
    if (rc == 0) return established(io, fd);
    std::lock_guard lock(mu_);
    connect_addresses_ = std::move(addresses);
    connect_index_ = index;
    await_connecting(io, fd);
    host->io_wait(io, SKIFF_IO_WRITABLE, &ClientCall::on_connect, this);
    if (interrupted_ != SKIFF_OK) host->io_cancel(io);
    return;
  }
  connected(nullptr, last_error.empty() ? "no address" : last_error);
}

void ClientCall::await_connecting(skiff_io_t* io, int fd) {
  connecting_ = io;
  connecting_fd_ = fd;
  connect_timed_out_ = false;
  // Started under the lock interrupt() takes: a cancel either finds the wait to cancel or
  // comes after this block and finds connecting_ set.
  connect_timer_.start(transport_->host(), transport_->settings().connect_timeout_ms, [this] {
    std::lock_guard lock(mu_);
    connect_timed_out_ = true;
    if (connecting_) transport_->host()->io_cancel(connecting_);
  });
}

ClientCall::Connecting ClientCall::take_connecting() {
  connect_timer_.stop();
  std::lock_guard lock(mu_);
  Connecting c{connecting_, connecting_fd_, connect_timed_out_};
  connecting_ = nullptr;
  return c;
}

void ClientCall::on_connect(void* ud, skiff_status_t status, size_t, skiff_str_t) {
  auto* self = static_cast<ClientCall*>(ud);
  const auto* host = self->transport_->host();
  auto [io, fd, timed_out] = self->take_connecting();
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (status == SKIFF_OK && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
    so_error = errno;
  if (status == SKIFF_OK && so_error == 0) return self->established(io, fd);
  host->io_close(io);
  std::string error = timed_out                         ? "connect timed out"
                      : status != SKIFF_OK || !so_error ? "connect cancelled"
                                                        : std::strerror(so_error);
  self->connect_to(std::move(self->connect_addresses_), self->connect_index_ + 1, error);
}

void ClientCall::established(skiff_io_t* io, int fd) {
  const auto* host = transport_->host();
  if (!transport_->tls()) return connected(std::make_unique<Connection>(host, io, fd), "");
  {
    // The handshake gets connect_timeout too: a peer that accepts and never answers is as dead.
    std::lock_guard lock(mu_);
    await_connecting(io, fd);
  }
  host->io_start_tls(io, SKIFF_TLS_CLIENT, str(peer_app_), str(peer_namespace_),
                     &ClientCall::on_secured, this);
  if (interrupted_ != SKIFF_OK) {
    // Through connecting_: the handshake may have ended, and io be closed, already.
    std::lock_guard lock(mu_);
    if (connecting_) host->io_cancel(connecting_);
  }
}

void ClientCall::on_secured(void* ud, skiff_status_t status, size_t, skiff_str_t message) {
  auto* self = static_cast<ClientCall*>(ud);
  const auto* host = self->transport_->host();
  auto [io, fd, timed_out] = self->take_connecting();
  if (status == SKIFF_OK) return self->connected(std::make_unique<Connection>(host, io, fd), "");
  host->io_close(io);
  // Nothing was sent: the call is UNAVAILABLE and may go to another instance.
  self->connected(nullptr, timed_out ? std::string("TLS handshake timed out")
                                     : std::string(sdk::view(message)));
}

void ClientCall::connected(std::unique_ptr<Connection> conn, std::string error) {
  std::unique_lock lock(mu_);
  if (conn) {
    conn_ = std::move(conn);
    conn_->set_owner(this);
    state_ = State::kReady;
    // A cancel or deadline while connecting: nothing may go out on the new connection.
    if (interrupted_ != SKIFF_OK) conn_->cancel();
  } else {
    state_ = State::kFailed;
    connect_error_ = "cannot connect: " + error;
  }
  bool write = write_parked_, head = read_head_parked_;
  write_parked_ = read_head_parked_ = false;
  lock.unlock();
  if (write) start_write();
  if (head) start_read_head();
}

// ---- operations ----

void ClientCall::write(skiff_bytes_t chunk, bool end, skiff_done_fn done, void* user_data) {
  chunk_ = chunk;
  end_ = end;
  write_done_ = done;
  write_user_data_ = user_data;
  if (interrupted_ != SKIFF_OK) return on_written(SKIFF_ERR_CANCELLED, "");
  if (connection_ready(true)) start_write();
}

void ClientCall::start_write() {
  if (!conn_) return on_written(SKIFF_ERR_UNAVAILABLE, connect_error_);
  // The head goes out with the first chunk; a fresh connection starts with the preface, which
  // head_frame_ begins with.
  std::string_view frames;
  if (!head_sent_) {
    frames = std::string_view(head_frame_).substr(reused_ ? wire::kPreface.size() : 0);
    head_sent_ = true;
  }
  conn_->write(frames, std::string_view(reinterpret_cast<const char*>(chunk_.ptr), chunk_.len),
               end_);
}

void ClientCall::on_written(skiff_status_t status, std::string_view error) {
  if (status == SKIFF_OK && end_) request_ended_ = true;
  std::string message = status == SKIFF_OK ? std::string() : describe(error);
  auto st = status == SKIFF_OK ? SKIFF_OK : outcome(status);
  write_done_(write_user_data_, st, str(message));
}

void ClientCall::read_head(skiff_head_done_fn done, void* user_data) {
  head_done_ = done;
  read_user_data_ = user_data;
  if (interrupted_ != SKIFF_OK) return on_frame(SKIFF_ERR_CANCELLED, 0, "", "");
  if (connection_ready(false)) start_read_head();
}

void ClientCall::start_read_head() {
  if (!conn_) return on_frame(SKIFF_ERR_UNAVAILABLE, 0, "", connect_error_);
  conn_->read_frame();
}

void ClientCall::on_frame(skiff_status_t status, uint8_t type, std::string_view payload,
                          std::string_view error) {
  auto fail = [&](skiff_status_t st, std::string_view why) {
    std::string message = describe(why);
    head_done_(read_user_data_, outcome(st), nullptr, str(message));
  };
  if (status != SKIFF_OK) return fail(status, error);
  response_started_ = true;
  if (type == wire::kResponseHead) {
    wire::ResponseHead head;
    if (!wire::parse_response_head(payload, head))
      return fail(SKIFF_ERR_INTERNAL, "malformed response head");
    return head_done_(read_user_data_, SKIFF_OK, &head.c, str(""));
  }
  skiff_status_t failed = SKIFF_OK;
  std::string_view message;
  if (type != wire::kFail || !wire::parse_fail(payload, failed, message))
    return fail(SKIFF_ERR_INTERNAL, "protocol error: expected a response head");
  // The callee sidecar's own failure, passed through as it is (no address: it is not ours).
  head_done_(read_user_data_, failed, nullptr, str(message));
}

void ClientCall::read(skiff_read_done_fn done, void* user_data) {
  read_done_ = done;
  read_user_data_ = user_data;
  if (interrupted_ != SKIFF_OK) return on_body(SKIFF_ERR_CANCELLED, "", false, "");
  if (!conn_ || !response_started_)
    return on_body(SKIFF_ERR_FAILED_PRECONDITION, "", false, "read before the response head");
  conn_->read_body();
}

void ClientCall::on_body(skiff_status_t status, std::string_view piece, bool end,
                         std::string_view error) {
  if (status != SKIFF_OK && conn_->peer_failed() && interrupted_ == SKIFF_OK)
    return read_done_(read_user_data_, status, skiff_bytes_t{nullptr, 0}, 0, str(error));
  if (status != SKIFF_OK) {
    std::string message = describe(error);
    return read_done_(read_user_data_, outcome(status), skiff_bytes_t{nullptr, 0}, 0, str(message));
  }
  if (end) response_ended_ = true;
  read_done_(read_user_data_, SKIFF_OK, sdk::bytes(piece), end ? 1 : 0, str(""));
}

void ClientCall::cancel() {
  interrupt(SKIFF_ERR_CANCELLED);
}

void ClientCall::interrupt(skiff_status_t why) {
  skiff_status_t none = SKIFF_OK;
  if (!interrupted_.compare_exchange_strong(none, why)) return;
  std::unique_lock lock(mu_);
  if (connecting_) {
    transport_->host()->io_cancel(connecting_);
  } else if (state_ == State::kReady) {
    conn_->cancel();
  } else if (state_ == State::kConnecting && lookup_) {
    // A name lookup cannot be stopped: the parked operations fail now, the answer is ignored.
    state_ = State::kFailed;
    connect_error_ = "interrupted while resolving the peer's name";
    bool write = write_parked_, head = read_head_parked_;
    write_parked_ = read_head_parked_ = false;
    lock.unlock();
    if (write) start_write();
    if (head) start_read_head();
  }
}

void ClientCall::release() {
  deadline_.stop();
  connect_timer_.stop();
  std::shared_ptr<LookupTicket> lookup;
  {
    std::lock_guard lock(mu_);
    lookup = std::move(lookup_);
  }
  if (lookup) {
    std::lock_guard lock(lookup->mu);  // waits for an answer being handled right now
    lookup->call = nullptr;
  }
  // Whether the peer closed it meanwhile is checked when it is taken again.
  if (conn_ && interrupted_ == SKIFF_OK && request_ended_ && response_ended_ && conn_->clean() &&
      conn_->drained()) {
    conn_->set_owner(nullptr);
    conn_->shrink();
    transport_->give_back(pool_key_, std::move(conn_));
  }
  delete this;
}

}  // namespace skiff::tcp_transport
