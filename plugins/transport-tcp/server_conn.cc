#include "server_conn.hpp"

#include "tcp_transport.hpp"

namespace skiff::tcp_transport {

using sdk::str;
using sdk::view;

ServerConn::ServerConn(TcpTransport* transport, std::unique_ptr<Connection> conn)
    : transport_(transport), conn_(std::move(conn)) {
  conn_->set_owner(this);
}

void ServerConn::start() {
  // The handshake too must finish within head_timeout: the sweep cuts a peer that stalls it.
  set_deadline(Phase::kHead, transport_->settings().head_timeout_ms);
  if (!transport_->tls()) return conn_->read_preface();
  const auto* host = transport_->host();
  host->io_start_tls(conn_->io(), SKIFF_TLS_SERVER, str(""), str(""), &ServerConn::on_secured,
                     this);
}

void ServerConn::on_secured(void* ud, skiff_status_t status, size_t, skiff_str_t message) {
  auto* self = static_cast<ServerConn*>(ud);
  if (status != SKIFF_OK) {
    // A plaintext client, another CA's certificate, an expired one: refused before any call.
    if (status != SKIFF_ERR_CANCELLED)
      self->transport_->log_handshake_refused(std::string(view(message)));
    return self->close();
  }
  self->peer_identity_ =
      std::string(view(self->transport_->host()->io_peer_identity(self->conn_->io())));
  self->conn_->read_preface();
}

void ServerConn::set_deadline(Phase phase, uint64_t timeout_ms) {
  deadline_ms_.store(timeout_ms == 0 ? 0 : monotonic_ms() + static_cast<int64_t>(timeout_ms),
                     std::memory_order_relaxed);
  phase_.store(phase, std::memory_order_release);
}

void ServerConn::expire_if_due(int64_t now_ms) {
  Phase phase = phase_.load(std::memory_order_acquire);
  int64_t deadline = deadline_ms_.load(std::memory_order_relaxed);
  if (phase == Phase::kNone || deadline == 0 || now_ms < deadline) return;
  Phase none = Phase::kNone;
  if (!expired_.compare_exchange_strong(none, phase)) return;  // cut already
  conn_->cancel();  // the pending read ends with CANCELLED; on_frame / on_body say why
}

void ServerConn::on_received() {
  // Runs on the read path only, as do the phase changes it tests for.
  switch (phase_.load(std::memory_order_relaxed)) {
    case Phase::kIdle:  // the first byte of the next head: all of it within head_timeout
      return set_deadline(Phase::kHead, transport_->settings().head_timeout_ms);
    case Phase::kBody:  // the body moves
      return set_deadline(Phase::kBody, transport_->settings().body_timeout_ms);
    default:  // a head, even one dripping in, is not given more time
      return;
  }
}

std::string ServerConn::expiry_reason(Phase phase) const {
  const auto& s = transport_->settings();
  switch (phase) {
    case Phase::kHead:
      return "no complete call head within " + std::to_string(s.head_timeout_ms) +
             "ms (transport.config.head_timeout)";
    case Phase::kIdle:
      return "idle for " + std::to_string(s.idle_timeout_ms) + "ms (transport.config.idle_timeout)";
    case Phase::kBody:
      return "no request body bytes for " + std::to_string(s.body_timeout_ms) +
             "ms (transport.config.body_timeout)";
    default:
      return "";
  }
}

void ServerConn::close_if_idle() {
  std::lock_guard lock(mu_);
  if (!active_) conn_->cancel();  // the pending read ends with CANCELLED, which closes
}

void ServerConn::close_lingering() {
  linger_timer_.stop();
  close();
}

void ServerConn::cut() {
  cut_ = true;
  conn_->cancel();
}

void ServerConn::close() {
  auto* transport = transport_;
  transport->forget(this);  // out of shutdown's reach first
  delete this;              // closes the socket
  transport->report_shutdown_if_done();
}

void ServerConn::on_frame(skiff_status_t status, uint8_t type, std::string_view payload,
                          std::string_view error) {
  if (lingering_) return close_lingering();  // the caller closed, or the time is up
  if (status != SKIFF_OK) {
    Phase expired = expired_.load();
    if (expired == Phase::kHead)  // an idle connection closing is routine: not logged
      transport_->log(SKIFF_LOG_DEBUG, "closing a connection: " + expiry_reason(expired));
    else if (expired == Phase::kNone && status != SKIFF_ERR_CANCELLED &&
             status != SKIFF_ERR_UNAVAILABLE)
      transport_->log(SKIFF_LOG_DEBUG, "closing a connection: " + std::string(error));
    return close();  // the peer went away between calls, spoke nonsense, or took too long
  }
  if (!greeted_) {
    greeted_ = true;
    return conn_->read_frame();  // still within the head deadline start() set
  }
  phase_.store(Phase::kNone, std::memory_order_release);
  // A sweep that found the deadline passed just before the head was complete has cut the
  // connection: the call could not answer.
  if (expired_.load() != Phase::kNone) return close();
  wire::CallHead head;
  if (type != wire::kCallHead || !wire::parse_call_head(payload, head)) {
    transport_->log(SKIFF_LOG_DEBUG, "closing a connection: malformed call head");
    return close();
  }
  {
    std::unique_lock lock(mu_);
    // A call that arrives while shutting down is refused with UNAVAILABLE: nothing of it ran,
    // so the caller may try another instance.
    if (transport_->shutting_down()) {
      lock.unlock();
      refusing_ = true;
      out_frames_.clear();
      wire::append_fail(out_frames_, SKIFF_ERR_UNAVAILABLE, "the sidecar is shutting down");
      return conn_->write(out_frames_, std::nullopt, false);
    }
    active_ = true;
  }
  request_ended_ = response_ended_ = false;
  response_frames_.clear();
  // Who calls is what the certificate says, never what the head claims.
  head.c.peer_identity = str(peer_identity_);
  const auto& handler = transport_->handler();
  handler.on_call(handler.host_data, reinterpret_cast<skiff_server_call_t*>(this), &head.c);
}

void ServerConn::read(skiff_read_done_fn done, void* user_data) {
  read_done_ = done;
  read_user_data_ = user_data;
  if (cut_) return on_body(SKIFF_ERR_CANCELLED, "", false, "shutting down");
  if (request_ended_) return on_body(SKIFF_ERR_OUT_OF_RANGE, "", false, "the body already ended");
  // A caller sidecar that stops sending mid-body must not hold the connection for ever.
  set_deadline(Phase::kBody, transport_->settings().body_timeout_ms);
  conn_->read_body();
}

void ServerConn::on_body(skiff_status_t status, std::string_view piece, bool end,
                         std::string_view error) {
  phase_.store(Phase::kNone, std::memory_order_release);  // before the host may read again
  if (status != SKIFF_OK) {
    std::string message = "caller sidecar: ";
    if (expired_.load() == Phase::kBody) {
      status = SKIFF_ERR_DEADLINE_EXCEEDED;
      message += expiry_reason(Phase::kBody);
    } else {
      message += error;
    }
    return read_done_(read_user_data_, status, skiff_bytes_t{nullptr, 0}, 0, str(message));
  }
  if (end) request_ended_ = true;
  read_done_(read_user_data_, SKIFF_OK, sdk::bytes(piece), end ? 1 : 0, str(""));
}

void ServerConn::write_head(const skiff_response_head_t* head, skiff_done_fn done,
                            void* user_data) {
  response_frames_.clear();
  wire::append_response_head(response_frames_, *head);
  done(user_data, SKIFF_OK, str(""));  // it leaves with the first body chunk
}

void ServerConn::write(skiff_bytes_t chunk, bool end, skiff_done_fn done, void* user_data) {
  write_done_ = done;
  write_user_data_ = user_data;
  write_ends_response_ = end;
  if (cut_) return on_written(SKIFF_ERR_CANCELLED, "shutting down");
  // The write may complete, and the call be released, on another thread before write() returns:
  // nothing of this object may be touched after it starts. The head (if not sent yet) goes to
  // out_frames_, which stays put until the write completes; both buffers keep their capacity.
  out_frames_.swap(response_frames_);
  response_frames_.clear();
  conn_->write(out_frames_, std::string_view(reinterpret_cast<const char*>(chunk.ptr), chunk.len),
               end);
}

void ServerConn::fail(skiff_status_t status, std::string_view message, skiff_done_fn done,
                      void* user_data) {
  write_done_ = done;
  write_user_data_ = user_data;
  write_ends_response_ = true;
  out_frames_.clear();
  wire::append_fail(out_frames_, status == SKIFF_OK ? SKIFF_ERR_UNKNOWN : status, message);
  conn_->write(out_frames_, std::nullopt, false);
}

void ServerConn::on_written(skiff_status_t status, std::string_view error) {
  if (refusing_) return close();
  // An answer that moves keeps the call alive while the request body waits (a stream whose
  // caller only listens). Only the deadline: racing a read that just ended, this may store it
  // after the phase went to none, which the sweep ignores, and the next read sets its own.
  const uint64_t body_timeout = transport_->settings().body_timeout_ms;
  if (status == SKIFF_OK && body_timeout > 0 &&
      phase_.load(std::memory_order_acquire) == Phase::kBody)
    deadline_ms_.store(monotonic_ms() + static_cast<int64_t>(body_timeout),
                       std::memory_order_relaxed);
  if (status == SKIFF_OK && write_ends_response_) response_ended_ = true;
  std::string message =
      status == SKIFF_OK ? std::string() : "caller sidecar: " + std::string(error);
  write_done_(write_user_data_, status, str(message));
}

void ServerConn::release() {
  phase_.store(Phase::kNone, std::memory_order_release);
  bool keep;
  {
    std::lock_guard lock(mu_);
    active_ = false;
    // The next call may use the connection only when this one ended cleanly both ways; an
    // answer sent before the whole request was read leaves request bytes behind: close.
    keep = request_ended_ && response_ended_ && !transport_->shutting_down() && conn_->clean();
  }
  if (!keep && response_ended_ && !request_ended_ && conn_->clean()) {
    // An answer sent before the whole request was read (a 413, say). Closing now, with request
    // bytes unread, would make the kernel reset the connection and could destroy the answer
    // before the caller read it: close gracefully, and give the caller a moment to stop.
    lingering_ = true;
    linger_timer_.start(transport_->host(), kLingerMs, [this] { conn_->cancel(); });
    return conn_->linger();
  }
  if (!keep) return close();
  conn_->shrink();
  set_deadline(Phase::kIdle, transport_->settings().idle_timeout_ms);
  conn_->read_frame();
}

}  // namespace skiff::tcp_transport
