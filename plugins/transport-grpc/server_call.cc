#include "server_call.hpp"

namespace skiff::grpc_transport {

using sdk::str;

ServerCall::ServerCall(GrpcTransport* transport, grpc::CallbackServerContext* context)
    : transport_(transport), context_(context) {
  StartRead(&in_);
}

void ServerCall::OnReadDone(bool ok) {
  std::unique_lock lock(mu_);
  read_in_flight_ = false;
  if (!ok) {
    stream_ended_ = true;
    if (!started_) {
      lock.unlock();
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "call ended before its head"));
      return;
    }
    return deliver_read(lock);
  }
  if (!started_) {
    if (!in_.has_call_head()) {
      lock.unlock();
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the first frame must carry the call head"));
      return;
    }
    started_ = true;
    pending_body_ = std::move(*in_.mutable_body());
    has_pending_ = !pending_body_.empty();
    end_of_body_ = in_.end_of_body();
    const auto& h = in_.call_head();
    auto headers = header_views(h.headers());
    // The caller's SPIFFE ID from its certificate; plaintext carries none.
    std::string peer = transport_->tls_on() ? peer_identity(*context_) : std::string();
    skiff_call_head_t head{sizeof(skiff_call_head_t),
                           str(h.target_app_id()),
                           str(h.target_namespace()),
                           str(h.caller_app_id()),
                           str(h.caller_namespace()),
                           str(h.method()),
                           str(h.verb()),
                           str(h.query()),
                           headers.data(),
                           headers.size(),
                           h.timeout_ms(),
                           str(peer)};
    refs_.fetch_add(1, std::memory_order_relaxed);
    lock.unlock();
    const auto& handler = transport_->handler();
    handler.on_call(handler.host_data, reinterpret_cast<skiff_server_call_t*>(this), &head);
    return;
  }
  if (!in_.body().empty()) {
    pending_body_ = std::move(*in_.mutable_body());
    has_pending_ = true;
  }
  end_of_body_ = in_.end_of_body();
  deliver_read(lock);
}

void ServerCall::read(skiff_read_done_fn done, void* ud) {
  std::unique_lock lock(mu_);
  read_waiter_ = done;
  read_ud_ = ud;
  deliver_read(lock);
}

void ServerCall::deliver_read(std::unique_lock<std::mutex>& lock) {
  if (!read_waiter_) return;
  auto fn = read_waiter_;
  auto ud = read_ud_;
  if (has_pending_ || end_of_body_) {
    read_waiter_ = nullptr;
    std::string chunk = std::move(pending_body_);
    pending_body_.clear();
    has_pending_ = false;
    bool eob = end_of_body_;
    lock.unlock();
    fn(ud, SKIFF_OK, skiff_bytes_t{reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()},
       eob ? 1 : 0, str(""));
    return;
  }
  if (stream_ended_ || done_) {
    read_waiter_ = nullptr;
    lock.unlock();
    fn(ud, SKIFF_ERR_DATA_LOSS, skiff_bytes_t{}, 0,
       str("the caller ended the call before its body was complete"));
    return;
  }
  if (!read_in_flight_) {
    read_in_flight_ = true;
    lock.unlock();
    StartRead(&in_);
  }
}

void ServerCall::write_head(const skiff_response_head_t* head, skiff_done_fn done, void* ud) {
  {
    std::lock_guard lock(mu_);
    response_head_.Clear();
    response_head_.set_http_status(head->http_status);
    fill_headers(head->headers, head->header_count, response_head_.mutable_headers());
    head_set_ = true;
  }
  done(ud, SKIFF_OK, str(""));
}

void ServerCall::write(skiff_bytes_t chunk, bool end_of_body, skiff_done_fn done, void* ud) {
  {
    std::unique_lock lock(mu_);
    if (finishing_ || done_) {
      lock.unlock();  // completions never run under our lock
      done(ud, SKIFF_ERR_CANCELLED, str("call already ended"));
      return;
    }
    out_.Clear();
    if (!head_sent_) {
      if (!head_set_) response_head_.set_http_status(200);
      *out_.mutable_response_head() = response_head_;
      head_sent_ = true;
    }
    out_.set_body(chunk.ptr, chunk.len);
    out_.set_end_of_body(end_of_body);
    write_done_ = done;
    write_ud_ = ud;
    finishing_ = end_of_body;
  }
  // The last frame and the OK status go out together; its completion fires in OnDone.
  if (end_of_body)
    StartWriteAndFinish(&out_, grpc::WriteOptions(), grpc::Status::OK);
  else
    StartWrite(&out_);
}

void ServerCall::fail(skiff_status_t status, std::string_view message, skiff_done_fn done,
                      void* ud) {
  {
    std::unique_lock lock(mu_);
    if (finishing_ || done_) {
      lock.unlock();  // completions never run under our lock
      done(ud, SKIFF_ERR_CANCELLED, str("call already ended"));
      return;
    }
    out_.Clear();
    out_.mutable_failure()->set_status(status);
    out_.mutable_failure()->set_message(std::string(message));
    write_done_ = done;
    write_ud_ = ud;
    finishing_ = true;
  }
  StartWriteAndFinish(&out_, grpc::WriteOptions(), grpc::Status::OK);
}

void ServerCall::OnWriteDone(bool ok) {
  skiff_done_fn fn;
  void* ud;
  {
    std::lock_guard lock(mu_);
    fn = write_done_;
    ud = write_ud_;
    write_done_ = nullptr;
  }
  if (fn) fn(ud, ok ? SKIFF_OK : SKIFF_ERR_CANCELLED, str(ok ? "" : "the caller went away"));
}

void ServerCall::OnDone() {
  skiff_done_fn fn;
  void* ud;
  {
    std::unique_lock lock(mu_);
    done_ = true;
    fn = write_done_;
    ud = write_ud_;
    write_done_ = nullptr;
    deliver_read(lock);
  }
  if (fn) fn(ud, context_->IsCancelled() ? SKIFF_ERR_CANCELLED : SKIFF_OK, str(""));
  unref();
}

void ServerCall::release() {
  bool finish = false;
  {
    std::lock_guard lock(mu_);
    // A host that gives up without answering must still end the RPC.
    if (!finishing_ && !done_) {
      finishing_ = true;
      finish = true;
    }
  }
  if (finish)
    Finish(grpc::Status(grpc::StatusCode::INTERNAL, "the callee sidecar dropped the call"));
  unref();
}

void ServerCall::unref() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

}  // namespace skiff::grpc_transport
