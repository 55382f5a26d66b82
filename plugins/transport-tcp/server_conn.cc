#include "server_conn.hpp"

#include "tcp_transport.hpp"

namespace skiff::tcp_transport {

using sdk::str;

ServerConn::ServerConn(TcpTransport* transport, std::unique_ptr<Connection> conn)
    : transport_(transport), conn_(std::move(conn)) {
  conn_->set_owner(this);
}

void ServerConn::start() {
  conn_->read_preface();
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
    if (status != SKIFF_ERR_CANCELLED && status != SKIFF_ERR_UNAVAILABLE)
      transport_->log(SKIFF_LOG_DEBUG, "closing a connection: " + std::string(error));
    return close();  // the peer went away between calls, or spoke nonsense
  }
  if (!greeted_) {
    greeted_ = true;
    return conn_->read_frame();
  }
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
  const auto& handler = transport_->handler();
  handler.on_call(handler.host_data, reinterpret_cast<skiff_server_call_t*>(this), &head.c);
}

void ServerConn::read(skiff_read_done_fn done, void* user_data) {
  read_done_ = done;
  read_user_data_ = user_data;
  if (cut_) return on_body(SKIFF_ERR_CANCELLED, "", false, "shutting down");
  if (request_ended_) return on_body(SKIFF_ERR_OUT_OF_RANGE, "", false, "the body already ended");
  conn_->read_body();
}

void ServerConn::on_body(skiff_status_t status, std::string_view piece, bool end,
                         std::string_view error) {
  if (status != SKIFF_OK) {
    std::string message = "caller sidecar: " + std::string(error);
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
  if (status == SKIFF_OK && write_ends_response_) response_ended_ = true;
  std::string message =
      status == SKIFF_OK ? std::string() : "caller sidecar: " + std::string(error);
  write_done_(write_user_data_, status, str(message));
}

void ServerConn::release() {
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
  conn_->read_frame();
}

}  // namespace skiff::tcp_transport
