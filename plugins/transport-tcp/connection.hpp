// One TCP connection between two sidecars, carrying the frames of wire.hpp. All socket work goes
// through the host's io API (ABI 1.1), so it runs on the host's event-loop threads.
//
// The read side and the write side are independent: at most one read (preface, frame or body
// piece) and one write are outstanding, and may overlap. Results go to the owner, the call that
// currently uses the connection, possibly before the starting function returns.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/skiff.h"
#include "wire.hpp"

namespace skiff::tcp_transport {

class ConnectionOwner {
 public:
  // A preface or a whole non-data frame; `payload` is valid until the next read.
  virtual void on_frame(skiff_status_t status, uint8_t type, std::string_view payload,
                        std::string_view error) = 0;
  // The next piece of a body; valid until the next read.
  virtual void on_body(skiff_status_t status, std::string_view piece, bool end,
                       std::string_view error) = 0;
  virtual void on_written(skiff_status_t status, std::string_view error) = 0;
  // Bytes arrived (before they are parsed): the server side measures its timeouts with it.
  virtual void on_received() {}

 protected:
  ~ConnectionOwner() = default;
};

class Connection {
 public:
  Connection(const skiff_host_api_t* host, skiff_io_t* io, int fd);
  ~Connection();  // closes the socket; nothing may be outstanding
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  skiff_io_t* io() const { return io_; }
  // A new owner (call) starts counting its own bytes sent.
  void set_owner(ConnectionOwner* owner) {
    owner_ = owner;
    sent_ = 0;
  }
  // Bytes of the current owner's that went out: once any did, the peer may be running the call.
  bool sent_any() const { return sent_ > 0; }
  // The last read failed because the peer sent a FAIL frame: its status and message are the
  // callee sidecar's own, to be passed on as they are.
  bool peer_failed() const { return peer_failed_; }

  void read_preface();  // the client's preface, delivered through on_frame with type 0
  void read_frame();    // the next non-data frame
  void read_body();     // the next piece of the current body (DATA / DATA_END frames)
  // Lingering close: sends FIN after what was written, then reads and drops whatever the peer
  // still sends; the end (the peer's close, or an error) arrives through on_frame.
  void linger();

  // Sends `frames` (whole frames, possibly empty), then `chunk` as data frames, the last one
  // DATA_END when `end`. No chunk: only the frames. Both are borrowed until on_written.
  void write(std::string_view frames, std::optional<std::string_view> chunk, bool end);

  // Outstanding reads and writes complete with SKIFF_ERR_CANCELLED, and any started later fail:
  // the socket is shut down, so the connection is done.
  void cancel();
  // Usable for another call: nothing unread, the peer has not closed it, no failure seen.
  bool reusable() const;
  // No failure seen and no body left half-read (bytes of a next frame may be buffered).
  bool clean() const { return !broken_ && !in_data_; }
  bool drained() const { return buffered() == 0; }  // nothing read and not yet handed over
  void shrink();  // gives back a buffer grown for an oversized head when the connection goes idle

  // The read buffer starts small and grows geometrically, only when what arrived fills it: a
  // frame header declaring a large length allocates nothing until its bytes come.
  static constexpr size_t kSmallBuffer = 16 * 1024;
  // Large bodies are read in large pieces: fewer wake-ups and host hand-overs per megabyte.
  static constexpr size_t kLargeBuffer = 256 * 1024;
  // For tests, readable from any thread: bytes received so far, and the read buffer's size.
  uint64_t received() const { return received_.load(std::memory_order_acquire); }
  size_t capacity() const { return capacity_.load(std::memory_order_acquire); }

 private:
  enum class Want { kNone, kPreface, kFrame, kBody, kDiscard };
  size_t buffered() const { return rend_ - rpos_; }
  void pump();
  // Reads more; `need` is the size of a frame that must fit in the buffer whole (0: any).
  void fill(size_t need = 0);
  void grow(size_t size);
  void fail_read(skiff_status_t status, std::string_view error);
  void push_write();
  void next_data_frame();
  static void on_read(void* self, skiff_status_t status, size_t size, skiff_str_t message);
  static void on_write(void* self, skiff_status_t status, size_t size, skiff_str_t message);

  const skiff_host_api_t* host_;
  skiff_io_t* io_;
  int fd_;
  ConnectionOwner* owner_ = nullptr;
  std::atomic<bool> broken_{false};
  std::atomic<uint64_t> sent_{0};
  bool peer_failed_ = false;  // read side

  // Read side.
  Want want_ = Want::kNone;
  std::unique_ptr<uint8_t[]> rbuf_;
  size_t rbuf_size_;
  size_t rpos_ = 0, rend_ = 0;
  bool in_data_ = false, data_end_ = false;
  bool last_read_full_ = false;  // the last read filled all the room it was given
  size_t last_read_cap_ = 0;
  uint64_t data_left_ = 0;
  std::atomic<uint64_t> received_{0};
  std::atomic<size_t> capacity_;

  // Write side.
  std::string_view wframes_;
  size_t wframes_off_ = 0;
  bool has_chunk_ = false, wend_ = false;
  std::string_view wchunk_;
  uint8_t whdr_[wire::kFrameHeaderSize] = {};
  size_t whdr_len_ = 0, whdr_off_ = 0, wframe_len_ = 0, wbody_off_ = 0;
};

}  // namespace skiff::tcp_transport
