// The caller's side of one invocation: takes an idle connection to the peer or opens one on the
// first operation, sends the head with the first body chunk, and gives the connection back for
// the next call when both directions ended cleanly.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "connection.hpp"
#include "names.hpp"
#include "safe_timer.hpp"

namespace skiff::tcp_transport {

class TcpTransport;

class ClientCall final : public ConnectionOwner {
 public:
  ClientCall(TcpTransport* transport, std::string address, std::string head_frame,
             const skiff_call_head_t& head);

  void write(skiff_bytes_t chunk, bool end, skiff_done_fn done, void* user_data);
  void read_head(skiff_head_done_fn done, void* user_data);
  void read(skiff_read_done_fn done, void* user_data);
  void cancel();
  void release();

  void on_frame(skiff_status_t status, uint8_t type, std::string_view payload,
                std::string_view error) override;
  void on_body(skiff_status_t status, std::string_view piece, bool end,
               std::string_view error) override;
  void on_written(skiff_status_t status, std::string_view error) override;

 private:
  enum class State { kIdle, kConnecting, kReady, kFailed };
  ~ClientCall() = default;  // release() deletes

  // Returns true when the connection is ready now; otherwise the operation is parked and runs
  // (or fails) once connecting ends.
  bool connection_ready(bool for_write);
  void connect_to(std::vector<SocketAddress> addresses, size_t index, std::string last_error);
  // A socket whose connect or handshake is under way: kept in connecting_ (mu_ held) so that
  // interrupt() and the connect timer can cancel it; taken back when it completes.
  struct Connecting {
    skiff_io_t* io;
    int fd;
    bool timed_out;
  };
  void await_connecting(skiff_io_t* io, int fd);
  Connecting take_connecting();
  static void on_connect(void* self, skiff_status_t status, size_t, skiff_str_t message);
  // A TCP connection is up: with mTLS its handshake comes first, checking the peer is the app
  // this call is for.
  void established(skiff_io_t* io, int fd);
  static void on_secured(void* self, skiff_status_t status, size_t, skiff_str_t message);
  void connected(std::unique_ptr<Connection> conn, std::string error);
  void start_write();
  void start_read_head();
  void interrupt(skiff_status_t why);
  // The status a failed operation reports: cancellation and deadline win over what they caused.
  skiff_status_t outcome(skiff_status_t status) const;
  std::string describe(std::string_view error) const;

  TcpTransport* transport_;
  const std::string address_;
  const std::string peer_app_, peer_namespace_;  // whom this call is for, as TLS must verify
  // Idle connections are pooled by address and, with mTLS, by the identity they verified.
  const std::string pool_key_;
  std::string head_frame_;  // the preface, then the call head; sent with the first write
  bool head_sent_ = false;
  SafeTimer deadline_;
  SafeTimer connect_timer_;

  std::mutex mu_;  // guards state_, the parked operations and connecting_
  State state_ = State::kIdle;
  std::string connect_error_;
  skiff_io_t* connecting_ = nullptr;
  int connecting_fd_ = -1;
  bool connect_timed_out_ = false;
  std::vector<SocketAddress> connect_addresses_;
  struct LookupTicket {
    std::mutex mu;
    ClientCall* call = nullptr;  // null once the call is released
  };
  std::shared_ptr<LookupTicket> lookup_;  // while a name lookup is pending
  size_t connect_index_ = 0;
  bool write_parked_ = false, read_head_parked_ = false;

  std::unique_ptr<Connection> conn_;
  bool reused_ = false;
  std::atomic<skiff_status_t> interrupted_{SKIFF_OK};  // CANCELLED or DEADLINE_EXCEEDED

  // The operation in flight in each direction (the ABI allows one of each).
  skiff_bytes_t chunk_{};
  bool end_ = false;
  skiff_done_fn write_done_ = nullptr;
  void* write_user_data_ = nullptr;
  skiff_head_done_fn head_done_ = nullptr;
  skiff_read_done_fn read_done_ = nullptr;
  void* read_user_data_ = nullptr;
  bool response_started_ = false;  // any byte of an answer arrived
  bool request_ended_ = false, response_ended_ = false;
  // Bytes of this call went out: the peer may have started it.
  bool sent_any() const { return conn_ && conn_->sent_any(); }
};

}  // namespace skiff::tcp_transport
