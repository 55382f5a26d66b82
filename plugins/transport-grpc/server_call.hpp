// One incoming call of transport-grpc: a server bidi reactor whose first frame (the head) is
// handed to the host, which then reads the body and answers through the ABI.
#pragma once

#include <atomic>
#include <mutex>

#include "grpc_transport.hpp"

namespace skiff::grpc_transport {

class ServerCall final : public grpc::ServerBidiReactor<pb::Frame, pb::Frame> {
 public:
  ServerCall(GrpcTransport* transport, grpc::CallbackServerContext* context);

  void read(skiff_read_done_fn done, void* ud);
  void write_head(const skiff_response_head_t* head, skiff_done_fn done, void* ud);
  void write(skiff_bytes_t chunk, bool end_of_body, skiff_done_fn done, void* ud);
  void fail(skiff_status_t status, std::string_view message, skiff_done_fn done, void* ud);
  void release();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  void deliver_read(std::unique_lock<std::mutex>& lock);  // unlocks before calling the host
  void unref();

  GrpcTransport* transport_;
  grpc::CallbackServerContext* context_;
  pb::Frame in_;
  pb::Frame out_;

  std::mutex mu_;
  bool started_ = false;  // the head arrived and was handed to the host
  bool read_in_flight_ = true;
  bool stream_ended_ = false;
  std::string pending_body_;
  bool has_pending_ = false;
  bool end_of_body_ = false;
  skiff_read_done_fn read_waiter_ = nullptr;
  void* read_ud_ = nullptr;
  pb::ResponseHead response_head_;
  bool head_set_ = false;
  bool head_sent_ = false;
  skiff_done_fn write_done_ = nullptr;  // fires at OnWriteDone, or at OnDone for the final write
  void* write_ud_ = nullptr;
  bool finishing_ = false;
  bool done_ = false;
  std::atomic<int> refs_{1};  // gRPC's; the host takes one when the call is handed over
};

}  // namespace skiff::grpc_transport
