// grpc++ callback reactors as awaitables. A reactor callback completes the operation's
// Completion (plugin/bridge.hpp), which resumes the waiting coroutine on its own executor, so all
// call logic is written as coroutines on the event loop while gRPC runs its own threads.
// Both reactors are owned through shared_ptr: gRPC holds one reference until OnDone, and each
// coroutine using the stream holds another. The coroutines of one call share a strand; an
// operation asked for after the point where OnDone may have run (after finish(), or after the
// writer's hold was released) completes with false instead of starting.
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "call/call_context.hpp"
#include "plugin/bridge.hpp"
#include "telemetry/spans.hpp"

namespace skiff {

// Bytes of a ByteBuffer in one piece, and a ByteBuffer of bytes.
std::string to_bytes(const grpc::ByteBuffer& buffer);
grpc::ByteBuffer to_buffer(std::string_view bytes);
// A message as a proxied-call frame (grpc/framing.hpp), copied once out of its slices.
std::string to_frame(const grpc::ByteBuffer& message);

// One call an app made on the app-facing gRPC port.
class ServerStream final : public grpc::ServerGenericBidiReactor {
 public:
  static std::shared_ptr<ServerStream> create(grpc::GenericCallbackServerContext* context);
  grpc::GenericCallbackServerContext& context() { return *context_; }
  // This sidecar's record of the call, made when the call arrived; the access log line and the
  // server span are made from it when the call finishes.
  CallContext& call_context() { return call_; }

  // False when the client half-closed or the call ended.
  boost::asio::awaitable<bool> read(grpc::ByteBuffer& message);
  boost::asio::awaitable<bool> write(const grpc::ByteBuffer& message);
  boost::asio::awaitable<bool> send_initial_metadata();
  // Ends the call; trailing metadata must be added to context() before.
  void finish(const grpc::Status& status);
  // Runs (once, on a gRPC thread) when the client cancels or the deadline passes.
  void set_on_cancel(std::function<void()> fn);
  // Writes the access log line of this call when it finishes (`--enable-api-logging`).
  void log_on_finish(bool json);
  // Records this sidecar's server span of the call when it finishes: the call context's trace
  // names the span (its server_span) and its parent; `name` is the RPC
  // ("dapr.proto.runtime.v1.Dapr/InvokeService", or the app's method in proxy mode). `spans`
  // outlives the stream.
  void record_span_on_finish(const SpanSink& spans, std::string name, std::string app_id);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnSendInitialMetadataDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  explicit ServerStream(grpc::GenericCallbackServerContext* context) : context_(context) {}
  bool finished();
  grpc::GenericCallbackServerContext* context_;
  std::shared_ptr<ServerStream> self_;  // gRPC's reference, dropped in OnDone
  Completion<bool>* read_done_ = nullptr;
  Completion<bool>* write_done_ = nullptr;
  Completion<bool>* metadata_done_ = nullptr;
  std::mutex mu_;
  bool cancelled_ = false;
  bool finished_ = false;
  std::function<void()> on_cancel_;
  bool log_ = false, log_json_ = false;
  CallContext call_{CallIngress::kGrpcApi};
  struct SpanToRecord {
    const SpanSink* spans;
    std::string name, app_id;
  };
  std::unique_ptr<SpanToRecord> span_;  // only for a recorded (sampled) call
  void record_span(const grpc::Status& status) const;
};

// One call the sidecar makes to its gRPC app.
class ClientStream final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  static std::shared_ptr<ClientStream> create();
  grpc::ClientContext& context() { return context_; }
  // Starts the call; `method` is the full "/package.Service/Method".
  void start(grpc::GenericStub& stub, const std::string& method);

  boost::asio::awaitable<bool> read(grpc::ByteBuffer& message);
  boost::asio::awaitable<bool> write(const grpc::ByteBuffer& message);
  boost::asio::awaitable<bool> writes_done();
  // The writer is done with the stream (after writes_done or a failed write).
  void release_writer();
  // The reader is done (a read returned false, or it gives up).
  void release_reader();
  // The call's final status, once gRPC delivered it.
  boost::asio::awaitable<grpc::Status> finished();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnWritesDoneDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  ClientStream() = default;
  bool writer_held();
  grpc::ClientContext context_;
  std::shared_ptr<ClientStream> self_;
  Completion<bool>* read_done_ = nullptr;
  Completion<bool>* write_done_ = nullptr;
  std::mutex mu_;
  bool writer_held_ = false;
  bool reader_held_ = false;
  std::optional<grpc::Status> status_;
  Completion<grpc::Status>* done_waiter_ = nullptr;
};

}  // namespace skiff
