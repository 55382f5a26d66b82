#include "grpc/streams.hpp"

#include "common/trace_context.hpp"
#include "grpc/framing.hpp"
#include "telemetry/access_log.hpp"
#include "telemetry/service_metrics.hpp"

namespace skiff {

namespace asio = boost::asio;

namespace {
// The buffer's bytes in one string, after a frame header when `framed`.
std::string bytes_of(const grpc::ByteBuffer& buffer, bool framed) {
  std::vector<grpc::Slice> slices;
  std::string out;
  // Length() aborts on an invalid buffer.
  size_t length = buffer.Valid() && buffer.Dump(&slices).ok() ? buffer.Length() : 0;
  out.reserve(length + (framed ? 5 : 0));
  if (framed) append_message_header(out, length);
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}
}  // namespace

std::string to_bytes(const grpc::ByteBuffer& buffer) {
  return bytes_of(buffer, false);
}
std::string to_frame(const grpc::ByteBuffer& message) {
  return bytes_of(message, true);
}

grpc::ByteBuffer to_buffer(std::string_view bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

namespace {
// Takes the stored completion (if any) and completes it outside the caller's lock.
template <typename R>
void fire(Completion<R>*& slot, R value) {
  auto* c = std::exchange(slot, nullptr);
  if (c) c->complete(std::move(value));
}
}  // namespace

std::shared_ptr<ServerStream> ServerStream::create(grpc::GenericCallbackServerContext* context) {
  std::shared_ptr<ServerStream> s(new ServerStream(context));
  s->self_ = s;
  return s;
}

asio::awaitable<bool> ServerStream::read(grpc::ByteBuffer& message) {
  return await_completion<bool>([this, &message](Completion<bool>* c) {
    // After Finish, OnDone may already have run: no operation may start any more.
    if (finished()) return c->complete(false);
    read_done_ = c;
    StartRead(&message);
  });
}
asio::awaitable<bool> ServerStream::write(const grpc::ByteBuffer& message) {
  return await_completion<bool>([this, &message](Completion<bool>* c) {
    write_done_ = c;
    StartWrite(&message);
  });
}
asio::awaitable<bool> ServerStream::send_initial_metadata() {
  return await_completion<bool>([this](Completion<bool>* c) {
    metadata_done_ = c;
    StartSendInitialMetadata();
  });
}
bool ServerStream::finished() {
  std::lock_guard lock(mu_);
  return finished_;
}

void ServerStream::finish(const grpc::Status& status) {
  {
    std::lock_guard lock(mu_);
    if (finished_) return;
    finished_ = true;
  }
  if (!status.ok()) call_.failure = static_cast<skiff_status_t>(status.error_code());
  if (log_) {
    const auto& md = context_->client_metadata();
    auto value = [&md](const char* name) {
      auto it = md.find(name);
      return it == md.end() ? std::string_view()
                            : std::string_view(it->second.data(), it->second.size());
    };
    // An invocation knows the trace it joined; any other call, at most the client's.
    std::string trace_id = call_.trace_id_hex();
    if (trace_id.empty())
      if (auto parent = parse_traceparent(value("traceparent"))) trace_id = parent->trace_id_hex();
    log_api_call(
        {.protocol = "gRPC",
         .method = context_->method(),
         .code = status_code_name(status.error_code()),
         .duration_ms = elapsed_ms(call_.started),
         .user_agent = value("user-agent"),
         .trace_id = trace_id,
         .target_app_id = call_.target_app_id.empty() ? value("dapr-app-id") : call_.target_app_id},
        log_json_);
  }
  if (span_) record_span(status);
  Finish(status);
}

void ServerStream::record_span_on_finish(const SpanSink& spans, std::string name,
                                         std::string app_id) {
  span_ = std::make_unique<SpanToRecord>(SpanToRecord{&spans, std::move(name), std::move(app_id)});
}

void ServerStream::record_span(const grpc::Status& status) const {
  const auto& s = *span_;
  const auto& trace = call_.trace;
  const auto code = status.error_code();
  // OpenTelemetry's RPC conventions: on a server span these codes are errors, the others (a
  // caller's mistake, a refusal) are not.
  const bool error =
      code == grpc::StatusCode::UNKNOWN || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
      code == grpc::StatusCode::UNIMPLEMENTED || code == grpc::StatusCode::INTERNAL ||
      code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DATA_LOSS;
  std::string_view rpc(s.name);
  const auto slash = rpc.find('/');
  const std::string code_text = std::to_string(static_cast<int>(code));
  s.spans->emit(
      {.trace = trace,
       .id = trace.server_span,
       .parent = trace.has_parent ? &trace.parent : nullptr,
       .name = s.name,
       .kind = SKIFF_SPAN_SERVER,
       .start_unix_nanos = call_.started_unix_nanos(),
       .end_unix_nanos = unix_nanos(),
       .status = error ? static_cast<skiff_status_t>(code) : SKIFF_OK,
       .status_message = error ? std::string_view(status.error_message()) : std::string_view(),
       .attributes = {{"rpc.system", "grpc"},
                      {"rpc.service", rpc.substr(0, slash)},
                      {"rpc.method", slash == std::string_view::npos ? std::string_view()
                                                                     : rpc.substr(slash + 1)},
                      {"rpc.grpc.status_code", code_text},
                      {"skiff.app_id", s.app_id}}});
}

void ServerStream::log_on_finish(bool json) {
  log_ = true;
  log_json_ = json;
}
void ServerStream::set_on_cancel(std::function<void()> fn) {
  bool run_now;
  {
    std::lock_guard lock(mu_);
    run_now = cancelled_;
    if (!run_now) on_cancel_ = fn;
  }
  if (run_now && fn) fn();
}

void ServerStream::OnReadDone(bool ok) {
  fire(read_done_, ok);
}
void ServerStream::OnWriteDone(bool ok) {
  fire(write_done_, ok);
}
void ServerStream::OnSendInitialMetadataDone(bool ok) {
  fire(metadata_done_, ok);
}
void ServerStream::OnCancel() {
  std::function<void()> fn;
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    fn = std::move(on_cancel_);
  }
  if (fn) fn();
}
void ServerStream::OnDone() {
  self_.reset();
}

std::shared_ptr<ClientStream> ClientStream::create() {
  std::shared_ptr<ClientStream> s(new ClientStream());
  s->self_ = s;
  return s;
}

void ClientStream::start(grpc::GenericStub& stub, const std::string& method) {
  stub.PrepareBidiStreamingCall(&context_, method, grpc::StubOptions(), this);
  writer_held_ = true;
  reader_held_ = true;
  // Reads and writes may start after the server already finished: OnDone waits for both sides.
  AddHold();
  AddHold();
  StartCall();
}

asio::awaitable<bool> ClientStream::read(grpc::ByteBuffer& message) {
  return await_completion<bool>([this, &message](Completion<bool>* c) {
    read_done_ = c;
    StartRead(&message);
  });
}
asio::awaitable<bool> ClientStream::write(const grpc::ByteBuffer& message) {
  return await_completion<bool>([this, &message](Completion<bool>* c) {
    // Once the writer's hold is gone, OnDone may already have run: no write may start.
    if (!writer_held()) return c->complete(false);
    write_done_ = c;
    StartWrite(&message);
  });
}
asio::awaitable<bool> ClientStream::writes_done() {
  return await_completion<bool>([this](Completion<bool>* c) {
    if (!writer_held()) return c->complete(false);
    write_done_ = c;
    StartWritesDone();
  });
}
bool ClientStream::writer_held() {
  std::lock_guard lock(mu_);
  return writer_held_;
}
void ClientStream::release_writer() {
  {
    std::lock_guard lock(mu_);
    if (!writer_held_) return;
    writer_held_ = false;
  }
  RemoveHold();
}
void ClientStream::release_reader() {
  {
    std::lock_guard lock(mu_);
    if (!reader_held_) return;
    reader_held_ = false;
  }
  RemoveHold();
}
asio::awaitable<grpc::Status> ClientStream::finished() {
  return await_completion<grpc::Status>([this](Completion<grpc::Status>* c) {
    std::unique_lock lock(mu_);
    if (status_) {
      auto status = *status_;
      lock.unlock();
      c->complete(status);
      return;
    }
    done_waiter_ = c;
  });
}

void ClientStream::OnReadDone(bool ok) {
  fire(read_done_, ok);
}
void ClientStream::OnWriteDone(bool ok) {
  fire(write_done_, ok);
}
void ClientStream::OnWritesDoneDone(bool ok) {
  fire(write_done_, ok);
}
void ClientStream::OnDone(const grpc::Status& status) {
  Completion<grpc::Status>* waiter;
  {
    std::lock_guard lock(mu_);
    status_ = status;
    waiter = std::exchange(done_waiter_, nullptr);
  }
  if (waiter) waiter->complete(status);
  self_.reset();
}

}  // namespace skiff
