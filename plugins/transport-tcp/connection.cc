#include "connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace skiff::tcp_transport {
namespace {

bool is_data(uint8_t type) {
  return type == wire::kData || type == wire::kDataEnd;
}

}  // namespace

Connection::Connection(const skiff_host_api_t* host, skiff_io_t* io, int fd)
    : host_(host),
      io_(io),
      fd_(fd),
      rbuf_(new uint8_t[kSmallBuffer]),
      rbuf_size_(kSmallBuffer),
      capacity_(kSmallBuffer) {}

Connection::~Connection() {
  host_->io_close(io_);
}

void Connection::read_preface() {
  want_ = Want::kPreface;
  pump();
}
void Connection::read_frame() {
  want_ = Want::kFrame;
  pump();
}
void Connection::read_body() {
  want_ = Want::kBody;
  pump();
}

void Connection::linger() {
  ::shutdown(fd_, SHUT_WR);
  want_ = Want::kDiscard;
  in_data_ = false;
  pump();
}

void Connection::cancel() {
  // Sticky: io_cancel reaches only what is in flight, and a cancel may land between two reads.
  // With the socket shut down, whatever starts later fails at once.
  broken_ = true;
  ::shutdown(fd_, SHUT_RDWR);
  host_->io_cancel(io_);
}

bool Connection::reusable() const {
  if (broken_ || buffered() != 0 || in_data_) return false;
  char byte;
  ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void Connection::shrink() {
  // Only a buffer grown for an oversized head goes back; body-sized ones stay for the next call
  // (freeing and faulting in 256 KiB per call cost more than the body's copy).
  if (rbuf_size_ > kLargeBuffer && buffered() == 0) {
    rbuf_.reset(new uint8_t[kSmallBuffer]);
    rbuf_size_ = kSmallBuffer;
    capacity_.store(kSmallBuffer, std::memory_order_release);
    rpos_ = rend_ = 0;
  }
}

// Delivers what the owner waits for from the buffer, or reads more.
void Connection::pump() {
  if (want_ == Want::kDiscard) {
    rpos_ = rend_ = 0;
    return fill();
  }
  for (;;) {
    const uint8_t* at = rbuf_.get() + rpos_;
    if (want_ == Want::kPreface) {
      if (buffered() >= wire::kPreface.size()) {
        std::string_view got(reinterpret_cast<const char*>(at), wire::kPreface.size());
        if (got != wire::kPreface) return fail_read(SKIFF_ERR_INTERNAL, "not a skiff tcp peer");
        rpos_ += wire::kPreface.size();
        want_ = Want::kNone;
        return owner_->on_frame(SKIFF_OK, 0, got, "");
      }
    } else if (want_ == Want::kBody && in_data_) {
      if (data_left_ == 0) {
        in_data_ = false;
        if (!data_end_) continue;  // an empty DATA frame: nothing to hand over
        want_ = Want::kNone;
        return owner_->on_body(SKIFF_OK, "", true, "");
      }
      if (buffered() > 0) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(data_left_, buffered()));
        std::string_view piece(reinterpret_cast<const char*>(at), n);
        rpos_ += n;
        data_left_ -= n;
        bool end = data_left_ == 0 && data_end_;
        if (data_left_ == 0) in_data_ = false;
        want_ = Want::kNone;
        return owner_->on_body(SKIFF_OK, piece, end, "");
      }
    } else if (buffered() >= wire::kFrameHeaderSize) {
      auto header = wire::parse_frame_header(at);
      if (want_ == Want::kBody && header.type == wire::kFail) {
        // The callee sidecar gave up after its answer had started: its status and reason.
        if (header.length > wire::kMaxHeadFrame)
          return fail_read(SKIFF_ERR_INTERNAL, "protocol error: oversized failure");
        if (buffered() < wire::kFrameHeaderSize + header.length)
          return fill(wire::kFrameHeaderSize + header.length);
        skiff_status_t status = SKIFF_ERR_INTERNAL;
        std::string_view message;
        std::string_view payload(reinterpret_cast<const char*>(at) + wire::kFrameHeaderSize,
                                 header.length);
        if (!wire::parse_fail(payload, status, message))
          return fail_read(SKIFF_ERR_INTERNAL, "protocol error: malformed failure");
        rpos_ += wire::kFrameHeaderSize + header.length;
        peer_failed_ = true;
        return fail_read(status, message);
      }
      if (want_ == Want::kBody) {
        if (!is_data(header.type) || header.length > wire::kMaxDataFrame)
          return fail_read(SKIFF_ERR_INTERNAL, "protocol error: expected a body frame");
        rpos_ += wire::kFrameHeaderSize;
        in_data_ = true;
        data_end_ = header.type == wire::kDataEnd;
        data_left_ = header.length;
        continue;
      }
      if (is_data(header.type) || header.length > wire::kMaxHeadFrame)
        return fail_read(SKIFF_ERR_INTERNAL, "protocol error: unexpected or oversized frame");
      const size_t whole = wire::kFrameHeaderSize + header.length;
      if (buffered() >= whole) {
        std::string_view payload(reinterpret_cast<const char*>(at) + wire::kFrameHeaderSize,
                                 header.length);
        rpos_ += whole;
        want_ = Want::kNone;
        return owner_->on_frame(SKIFF_OK, header.type, payload, "");
      }
      return fill(whole);
    }
    return fill();
  }
}

void Connection::fill(size_t need) {
  if (rpos_ > 0) {
    std::memmove(rbuf_.get(), rbuf_.get() + rpos_, buffered());
    rend_ -= rpos_;
    rpos_ = 0;
  }
  // Growth follows what arrived, never what a header declares: a frame that does not fit grows
  // the buffer only once its bytes have filled it, and then by doubling, so a peer that
  // declares a large frame and sends little costs no more than it sent.
  if (need > rbuf_size_ && rend_ == rbuf_size_) {
    grow(std::min(need, rbuf_size_ * 2));
  } else if (want_ == Want::kBody && in_data_ && last_read_full_ && rbuf_size_ < kLargeBuffer &&
             data_left_ > rbuf_size_ - rend_) {
    // A body arriving faster than it is read: larger pieces, doubling up to kLargeBuffer.
    const uint64_t wanted = std::min<uint64_t>(rbuf_size_ * 2, rend_ + data_left_);
    if (wanted > rbuf_size_) grow(static_cast<size_t>(std::min<uint64_t>(kLargeBuffer, wanted)));
  }
  last_read_cap_ = rbuf_size_ - rend_;
  host_->io_read(io_, rbuf_.get() + rend_, last_read_cap_, &Connection::on_read, this);
}

void Connection::grow(size_t size) {
  std::unique_ptr<uint8_t[]> bigger(new uint8_t[size]);  // not zeroed: only read bytes count
  std::memcpy(bigger.get(), rbuf_.get(), rend_);
  rbuf_ = std::move(bigger);
  rbuf_size_ = size;
  capacity_.store(size, std::memory_order_release);
}

void Connection::on_read(void* ud, skiff_status_t status, size_t size, skiff_str_t message) {
  auto* self = static_cast<Connection*>(ud);
  if (status != SKIFF_OK)
    return self->fail_read(status, std::string_view(message.ptr, message.len));
  if (size == 0) return self->fail_read(SKIFF_ERR_UNAVAILABLE, "connection closed by the peer");
  self->rend_ += size;
  self->last_read_full_ = size == self->last_read_cap_;
  self->received_.fetch_add(size, std::memory_order_release);
  if (self->owner_) self->owner_->on_received();
  self->pump();
}

void Connection::fail_read(skiff_status_t status, std::string_view error) {
  broken_ = true;
  Want want = want_;
  want_ = Want::kNone;
  if (want == Want::kBody)
    owner_->on_body(status, "", false, error);
  else
    owner_->on_frame(status, 0, "", error);
}

void Connection::write(std::string_view frames, std::optional<std::string_view> chunk, bool end) {
  wframes_ = frames;
  wframes_off_ = 0;
  has_chunk_ = chunk.has_value();
  wchunk_ = chunk.value_or(std::string_view());
  wend_ = end;
  whdr_len_ = wframe_len_ = 0;
  if (has_chunk_) next_data_frame();
  push_write();
}

void Connection::next_data_frame() {
  whdr_len_ = wframe_len_ = whdr_off_ = wbody_off_ = 0;
  if (wchunk_.empty() && !wend_) {
    has_chunk_ = false;  // an empty piece in the middle of a body: nothing to send
    return;
  }
  size_t n = std::min<size_t>(wchunk_.size(), wire::kMaxDataFrame);
  bool last = n == wchunk_.size() && wend_;
  wire::put_frame_header(whdr_, last ? wire::kDataEnd : wire::kData, static_cast<uint32_t>(n));
  whdr_len_ = wire::kFrameHeaderSize;
  wframe_len_ = n;
}

void Connection::push_write() {
  skiff_bytes_t pieces[3];
  size_t count = 0;
  auto add = [&](const void* p, size_t n) {
    if (n) pieces[count++] = skiff_bytes_t{static_cast<const uint8_t*>(p), n};
  };
  add(wframes_.data() + wframes_off_, wframes_.size() - wframes_off_);
  add(whdr_ + whdr_off_, whdr_len_ - whdr_off_);
  add(wchunk_.data() + wbody_off_, wframe_len_ - wbody_off_);
  if (count == 0) {
    wframes_ = {};
    return owner_->on_written(SKIFF_OK, "");
  }
  host_->io_write(io_, pieces, count, &Connection::on_write, this);
}

void Connection::on_write(void* ud, skiff_status_t status, size_t size, skiff_str_t message) {
  auto* self = static_cast<Connection*>(ud);
  if (status != SKIFF_OK) {
    self->broken_ = true;
    return self->owner_->on_written(status, std::string_view(message.ptr, message.len));
  }
  self->sent_ += size;
  auto consume = [&size](size_t& off, size_t len) {
    size_t n = std::min(size, len - off);
    off += n;
    size -= n;
  };
  consume(self->wframes_off_, self->wframes_.size());
  consume(self->whdr_off_, self->whdr_len_);
  consume(self->wbody_off_, self->wframe_len_);
  if (self->has_chunk_ && self->whdr_off_ == self->whdr_len_ &&
      self->wbody_off_ == self->wframe_len_) {
    // A data frame is out: the next one, or the chunk is done.
    self->wchunk_.remove_prefix(self->wframe_len_);
    if (self->wchunk_.empty()) {
      self->has_chunk_ = false;
      self->whdr_len_ = self->whdr_off_ = self->wframe_len_ = self->wbody_off_ = 0;
    } else {
      self->next_data_frame();
    }
  }
  self->push_write();
}

}  // namespace skiff::tcp_transport
