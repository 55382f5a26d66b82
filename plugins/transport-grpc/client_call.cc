#include "client_call.hpp"

namespace skiff::grpc_transport {

using sdk::str;

ClientCall::ClientCall(std::string address, pb::CallHead head)
    : address_(std::move(address)), head_(std::move(head)) {}

void ClientCall::start(pb::Invocation::Stub* stub) {
  if (head_.timeout_ms() > 0)
    context_.set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(head_.timeout_ms()));
  stub->async()->Call(&context_, this);
  AddHold();
  AddHold();
  read_in_flight_ = true;
  StartRead(&in_);
  StartCall();
}

void ClientCall::write(skiff_bytes_t chunk, bool end_of_body, skiff_done_fn done, void* ud) {
  {
    std::unique_lock lock(mu_);
    if (!hold_) {
      // Cancelled, or the last write was already issued: the stream takes no more.
      lock.unlock();  // completions never run under our lock
      done(ud, SKIFF_ERR_CANCELLED, str("call already ended"));
      return;
    }
    out_.Clear();
    if (!head_sent_) {
      *out_.mutable_call_head() = std::move(head_);
      head_sent_ = true;
    }
    out_.set_body(chunk.ptr, chunk.len);
    out_.set_end_of_body(end_of_body);
    write_done_ = done;
    write_ud_ = ud;
    if (end_of_body) hold_ = false;
  }
  if (end_of_body) {
    StartWriteLast(&out_, grpc::WriteOptions());
    RemoveHold();
  } else {
    StartWrite(&out_);
  }
}

void ClientCall::OnWriteDone(bool ok) {
  skiff_done_fn done;
  void* ud;
  {
    std::lock_guard lock(mu_);
    maybe_delivered_ = maybe_delivered_ || ok;
    done = write_done_;
    ud = write_ud_;
    write_done_ = nullptr;
  }
  if (done) done(ud, ok ? SKIFF_OK : SKIFF_ERR_UNAVAILABLE, str(ok ? "" : "stream closed"));
}

void ClientCall::read_head(skiff_head_done_fn done, void* ud) {
  Deferred out;
  bool start_read;
  {
    std::lock_guard lock(mu_);
    head_waiter_ = done;
    head_ud_ = ud;
    start_read = progress(out);
  }
  finish(out, start_read);
}

void ClientCall::read(skiff_read_done_fn done, void* ud) {
  Deferred out;
  bool start_read;
  {
    std::lock_guard lock(mu_);
    read_waiter_ = done;
    read_ud_ = ud;
    start_read = progress(out);
  }
  finish(out, start_read);
}

void ClientCall::OnReadDone(bool ok) {
  Deferred out;
  bool start_read;
  bool remove_hold = false;
  {
    std::lock_guard lock(mu_);
    read_in_flight_ = false;
    if (!ok) {
      stream_ended_ = true;
    } else if (in_.has_failure()) {
      failure_ = in_.failure();
    } else {
      if (in_.has_response_head() && !response_head_) response_head_ = in_.response_head();
      if (!in_.body().empty()) {
        pending_body_ = std::move(*in_.mutable_body());
        has_pending_ = true;
      }
      end_of_body_ = in_.end_of_body();
    }
    start_read = progress(out);
    if (!start_read && (stream_ended_ || failure_ || end_of_body_)) remove_hold = drop_read_hold();
  }
  finish(out, start_read);
  if (remove_hold) RemoveHold();
}

void ClientCall::OnDone(const grpc::Status& status) {
  Deferred out;
  {
    std::lock_guard lock(mu_);
    done_ = true;
    status_ = status;
    progress(out);
  }
  finish(out, false);
  unref();
}

bool ClientCall::progress(Deferred& out) {
  bool need_read = false;
  // Why the stream cannot give more, if it cannot.
  auto terminal = [&]() -> std::optional<std::pair<skiff_status_t, std::string>> {
    if (failure_)
      return std::pair{static_cast<skiff_status_t>(failure_->status()), failure_->message()};
    if (!done_) return std::nullopt;
    if (!status_.ok()) {
      auto code = static_cast<skiff_status_t>(status_.error_code());
      std::string message = "sidecar at " + address_ + ": " + status_.error_message();
      // UNAVAILABLE promises the host that nothing was delivered (so a retry is safe). Once a
      // write went out, the peer may be running the call: report it as lost instead.
      if (code == SKIFF_ERR_UNAVAILABLE && maybe_delivered_) {
        code = SKIFF_ERR_UNKNOWN;
        message += " (the connection broke after the request was sent; not retried)";
      }
      return std::pair{code, message};
    }
    return std::pair{SKIFF_ERR_INTERNAL,
                     "sidecar at " + address_ + " ended the call without a response"};
  };

  if (head_waiter_) {
    if (response_head_) {
      auto fn = head_waiter_;
      auto ud = head_ud_;
      head_waiter_ = nullptr;
      head_delivered_ = true;
      auto head = *response_head_;
      out.push_back([fn, ud, head = std::move(head)] {
        auto views = header_views(head.headers());
        skiff_response_head_t h{sizeof(skiff_response_head_t), head.http_status(), views.data(),
                                views.size()};
        fn(ud, SKIFF_OK, &h, str(""));
      });
    } else if (auto t = terminal()) {
      auto fn = head_waiter_;
      auto ud = head_ud_;
      head_waiter_ = nullptr;
      out.push_back([fn, ud, t = *t] { fn(ud, t.first, nullptr, str(t.second)); });
    } else if (!read_in_flight_ && !stream_ended_) {
      need_read = true;
    }
  }
  if (read_waiter_ && head_delivered_) {
    auto fn = read_waiter_;
    auto ud = read_ud_;
    if (has_pending_ || end_of_body_) {
      read_waiter_ = nullptr;
      std::string chunk = std::move(pending_body_);
      pending_body_.clear();
      has_pending_ = false;
      bool eob = end_of_body_;
      out.push_back([fn, ud, chunk = std::move(chunk), eob] {
        fn(ud, SKIFF_OK,
           skiff_bytes_t{reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()}, eob ? 1 : 0,
           str(""));
      });
    } else if (auto t = terminal()) {
      read_waiter_ = nullptr;
      out.push_back([fn, ud, t = *t] {
        fn(ud, t.first == SKIFF_OK ? SKIFF_ERR_DATA_LOSS : t.first, skiff_bytes_t{}, 0,
           str(t.second));
      });
    } else if (!read_in_flight_ && !stream_ended_) {
      need_read = true;
    }
  }
  if (need_read) read_in_flight_ = true;
  return need_read;
}

void ClientCall::finish(Deferred& out, bool start_read) {
  if (start_read) StartRead(&in_);
  for (auto& fn : out) fn();
}

bool ClientCall::drop_write_hold() {
  bool had = hold_;
  hold_ = false;
  return had;
}

bool ClientCall::drop_read_hold() {
  bool had = read_hold_;
  read_hold_ = false;
  return had;
}

void ClientCall::cancel() {
  context_.TryCancel();
  bool remove;
  {
    std::lock_guard lock(mu_);
    remove = drop_write_hold();
  }
  if (remove) RemoveHold();
}

void ClientCall::release() {
  int holds = 0;
  {
    std::lock_guard lock(mu_);
    if (hold_ || read_hold_) context_.TryCancel();
    holds += drop_write_hold() ? 1 : 0;
    holds += drop_read_hold() ? 1 : 0;
  }
  while (holds-- > 0) RemoveHold();
  unref();
}

void ClientCall::unref() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

}  // namespace skiff::grpc_transport
