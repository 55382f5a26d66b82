// One outgoing call of transport-grpc: a client bidi reactor driven by the host through the ABI.
// All state sits behind one per-call mutex; host completions are always fired outside it.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "grpc_transport.hpp"

namespace skiff::grpc_transport {

class ClientCall final : public grpc::ClientBidiReactor<pb::Frame, pb::Frame> {
 public:
  ClientCall(std::string address, pb::CallHead head);
  void start(pb::Invocation::Stub* stub);

  void write(skiff_bytes_t chunk, bool end_of_body, skiff_done_fn done, void* ud);
  void read_head(skiff_head_done_fn done, void* ud);
  void read(skiff_read_done_fn done, void* ud);
  void cancel();
  void release();

  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  using Deferred = std::vector<std::function<void()>>;
  // Decides what the waiting reads can get now; returns completions to run unlocked and whether a
  // new StartRead is needed.
  bool progress(Deferred& out);
  void finish(Deferred& out, bool start_read);
  // Each returns true when the caller must call RemoveHold() (outside mu_).
  bool drop_write_hold();
  bool drop_read_hold();
  void unref();

  std::string address_;
  pb::CallHead head_;
  grpc::ClientContext context_;
  pb::Frame out_;
  pb::Frame in_;

  std::mutex mu_;
  // Two holds keep OnDone away while we may still start operations: one until the last write
  // is issued, one until no more reads can be wanted.
  bool hold_ = true;
  bool read_hold_ = true;
  bool head_sent_ = false;
  bool maybe_delivered_ = false;  // a write reached gRPC's transport: the peer may have the call
  skiff_done_fn write_done_ = nullptr;
  void* write_ud_ = nullptr;
  skiff_head_done_fn head_waiter_ = nullptr;
  void* head_ud_ = nullptr;
  skiff_read_done_fn read_waiter_ = nullptr;
  void* read_ud_ = nullptr;
  bool read_in_flight_ = false;
  bool stream_ended_ = false;  // the server sent its last message
  std::optional<pb::ResponseHead> response_head_;
  bool head_delivered_ = false;
  std::string pending_body_;
  bool has_pending_ = false;
  bool end_of_body_ = false;
  std::optional<pb::Failure> failure_;
  bool done_ = false;
  grpc::Status status_;
  std::atomic<int> refs_{2};  // the host's and gRPC's (dropped in OnDone)
};

}  // namespace skiff::grpc_transport
