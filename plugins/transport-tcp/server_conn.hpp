// The callee's side: one accepted connection, which serves its calls one after another. It is
// the ABI's server call object while a call runs, and waits for the next head in between.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "connection.hpp"
#include "safe_timer.hpp"

namespace skiff::tcp_transport {

class TcpTransport;

class ServerConn final : public ConnectionOwner {
 public:
  ServerConn(TcpTransport* transport, std::unique_ptr<Connection> conn);
  void start();          // the TLS handshake (with mTLS), the preface, then the first head
  void close_if_idle();  // shutdown: an idle connection goes at once, a busy one after its call
  void cut();            // the grace period is over: the running call fails
  // The transport's sweep, with the transport's connection lock held: a connection past its
  // deadline is cut, and what waited on it fails with the reason.
  void expire_if_due(int64_t now_ms);

  void read(skiff_read_done_fn done, void* user_data);
  void write_head(const skiff_response_head_t* head, skiff_done_fn done, void* user_data);
  void write(skiff_bytes_t chunk, bool end, skiff_done_fn done, void* user_data);
  void fail(skiff_status_t status, std::string_view message, skiff_done_fn done, void* user_data);
  void release();

  void on_frame(skiff_status_t status, uint8_t type, std::string_view payload,
                std::string_view error) override;
  void on_body(skiff_status_t status, std::string_view piece, bool end,
               std::string_view error) override;
  void on_written(skiff_status_t status, std::string_view error) override;
  void on_received() override;

 private:
  // What the connection waits for from the caller sidecar, which decides its deadline. None:
  // the callee's app has the call (its own timeouts bound it), or the connection is closing.
  enum class Phase : uint8_t { kNone, kHead, kIdle, kBody };
  static void on_secured(void* self, skiff_status_t status, size_t, skiff_str_t message);
  void set_deadline(Phase phase, uint64_t timeout_ms);
  std::string expiry_reason(Phase phase) const;

  ~ServerConn() = default;  // close() deletes
  void close();
  void close_lingering();
  static constexpr uint64_t kLingerMs = 2000;

  TcpTransport* transport_;
  std::unique_ptr<Connection> conn_;
  SafeTimer linger_timer_;  // after conn_: stopped (waiting for a running callback) first
  bool lingering_ = false;
  std::mutex mu_;              // guards active_ against a shutdown running on another thread
  bool active_ = false;        // a call is being served
  std::string peer_identity_;  // the verified SPIFFE ID of the calling sidecar (mTLS)
  bool greeted_ = false;       // the preface arrived
  std::atomic<bool> cut_{false};
  // Written by the read and write paths, read by the sweep on any thread. The deadline is
  // stored before the phase, so a sweep that sees a phase sees a deadline at least that new.
  std::atomic<Phase> phase_{Phase::kNone};
  std::atomic<int64_t> deadline_ms_{0};       // 0: none
  std::atomic<Phase> expired_{Phase::kNone};  // the phase whose deadline cut the connection
  bool refusing_ = false;  // answering a call that came during shutdown, then closing

  std::string response_frames_;  // the response head, sent with the first write
  std::string out_frames_;       // frames of the write in flight
  bool request_ended_ = false, response_ended_ = false;
  skiff_read_done_fn read_done_ = nullptr;
  skiff_done_fn write_done_ = nullptr;
  void* read_user_data_ = nullptr;
  void* write_user_data_ = nullptr;
  bool write_ends_response_ = false;
};

}  // namespace skiff::tcp_transport
