#include "appchannel/grpc_app_channel.hpp"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "common/api_token.hpp"
#include "common/json_text.hpp"
#include "dapr_api.pb.h"
#include "grpc/framing.hpp"
#include "grpc/metadata.hpp"
#include "grpc/streams.hpp"
#include "http/messages.hpp"
#include "invoke/call_head_check.hpp"
#include "invoke/caller.hpp"
#include "invoke/target.hpp"
#include "invoke/trace_headers.hpp"

namespace skiff {

namespace asio = boost::asio;
namespace common = dapr::proto::common::v1;

namespace {

common::HTTPExtension::Verb verb_of(std::string_view v) {
  common::HTTPExtension::Verb out = common::HTTPExtension::POST;
  common::HTTPExtension::Verb_Parse(std::string(v), &out);
  return out;
}

// Request headers that reach the app as metadata; skiff's own marker stays behind.
void add_request_metadata(grpc::ClientContext& ctx, const CallHead& head) {
  // The app's API token is the one header of skiff's own that reaches it: the callee set it.
  for (const auto& h : head.headers)
    if (h.name == kApiTokenHeader) ctx.AddMetadata(h.name, h.value);
  for_each_metadata(head.headers, [&](const std::string& n, const std::string& v) {
    if (n != kGrpcProxyHeader) ctx.AddMetadata(n, v);
  });
  if (head.timeout_ms)
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(head.timeout_ms));
}

}  // namespace

GrpcAppChannel::GrpcAppChannel(const Settings& settings) : settings_(settings) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  channel_ = grpc::CreateCustomChannel(
      settings.app_channel_address + ":" + std::to_string(settings.app_port),
      grpc::InsecureChannelCredentials(), args);
  stub_ = std::make_unique<grpc::GenericStub>(channel_);
}

asio::awaitable<void> GrpcAppChannel::serve(ServerCall& call, CallHead& head) {
  // gRPC validates what it writes itself; binary metadata goes to it as the bytes it is.
  if (auto checked = check_call_head(head, BinaryValues::kSkipped); !checked) {
    co_await call.fail(checked.error().code, checked.error().message);
    co_return;
  }
  add_grpc_trace_bin(head.headers);
  if (is_grpc_proxy(head))
    co_await proxy(call, head);
  else
    co_await on_invoke(call, head);
}

asio::awaitable<void> GrpcAppChannel::on_invoke(ServerCall& call, const CallHead& head) {
  auto body = co_await read_whole_body(call);
  if (!body) co_return;  // the caller went away
  common::InvokeRequest req;
  auto method = percent_decode(head.method);
  req.set_method(method ? *method : head.method);
  req.mutable_data()->set_value(std::move(*body));
  for (const auto& h : head.headers) {
    if (boost::beast::iequals(h.name, "Content-Type")) req.set_content_type(h.value);
    if (h.name == "skiff-any-type") req.mutable_data()->set_type_url(h.value);
  }
  req.mutable_http_extension()->set_verb(verb_of(head.verb));
  req.mutable_http_extension()->set_querystring(head.query);

  struct Unary {
    grpc::ClientContext ctx;
    grpc::ByteBuffer request, response;
  };
  auto u = std::make_shared<Unary>();
  add_request_metadata(u->ctx, head);
  if (!head.timeout_ms && settings_.app_timeout_ms)  // a stuck app must not hang the call
    u->ctx.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(settings_.app_timeout_ms));
  u->request = to_buffer(req.SerializeAsString());
  // Only borrowed captures in the initiation: GCC 12 mis-destroys owning ones in Asio 1.74's
  // initiation coroutine. `u` outlives the call: this frame holds it until the status arrives.
  Unary* unary = u.get();
  auto st = co_await await_completion<grpc::Status>([this, unary](Completion<grpc::Status>* c) {
    stub_->UnaryCall(&unary->ctx, "/dapr.proto.runtime.v1.AppCallback/OnInvoke",
                     grpc::StubOptions(), &unary->request, &unary->response,
                     [c](grpc::Status s) { c->complete(s); });
  });

  ResponseHead out;
  std::string answer;
  if (st.ok()) {
    common::InvokeResponse res;
    if (!res.ParseFromString(to_bytes(u->response))) {
      co_await call.fail(SKIFF_ERR_INTERNAL, "the app's OnInvoke answer is not an InvokeResponse");
      co_return;
    }
    out.http_status = 200;
    out.headers = headers_from_metadata(u->ctx.GetServerInitialMetadata());
    const std::string& type =
        !res.data().type_url().empty() ? "application/x-protobuf" : res.content_type();
    if (!type.empty()) out.headers.push_back({"Content-Type", type});
    // For a gRPC caller (InvokeService): the Any's type and "this came from a gRPC app".
    out.headers.push_back({"skiff-grpc-status", "0"});
    if (!res.data().type_url().empty())
      out.headers.push_back({"skiff-any-type", res.data().type_url()});
    answer = std::move(*res.mutable_data()->mutable_value());
  } else if (st.error_code() == grpc::StatusCode::UNAVAILABLE ||
             st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    // The app could not be reached or did not answer: the sidecar's failure, not the app's.
    const std::string why = "error invoking app channel: " + st.error_message();
    co_await call.fail(static_cast<skiff_status_t>(st.error_code()), why);
    co_return;
  } else {
    // The app's own error, as Dapr reports it: the HTTP status for its code, the status as JSON.
    out.http_status =
        static_cast<int>(http_status_for(static_cast<skiff_status_t>(st.error_code())));
    out.headers.push_back({"Content-Type", "application/json"});
    // A gRPC caller (InvokeService) gets the app's own status back from these.
    out.headers.push_back({"skiff-grpc-status", std::to_string(st.error_code())});
    out.headers.push_back({"skiff-grpc-message", st.error_message()});
    answer = json_text(nlohmann::json{{"code", st.error_code()}, {"message", st.error_message()}});
  }
  out.headers.push_back({"Content-Length", std::to_string(answer.size())});
  if ((co_await call.write_head(out)).status != SKIFF_OK) co_return;
  co_await call.write(answer, true);
}

namespace {

// Transport frames -> messages to the app, then the client's half-close. Signals `done` at the
// end, so the call (which it reads from) outlives it.
struct PumpDone {
  explicit PumpDone(asio::any_io_executor ex) : timer(ex) {
    timer.expires_at(asio::steady_timer::time_point::max());
  }
  asio::steady_timer timer;
  bool finished = false;
};

asio::awaitable<void> pump_to_app(ServerCall& call, std::shared_ptr<ClientStream> app,
                                  std::shared_ptr<PumpDone> done) {
  Deframer frames;
  bool ended = false;
  while (!ended) {
    auto chunk = co_await call.read();
    if (chunk.status != SKIFF_OK) {
      app->context().TryCancel();  // the caller went away or cancelled
      break;
    }
    frames.feed(chunk.chunk);
    bool ok = true;
    while (auto f = frames.next()) {
      if (f->end) continue;
      grpc::ByteBuffer msg = to_buffer(f->payload);
      if (!(ok = co_await app->write(msg))) break;
    }
    if (!ok) break;
    if (chunk.end_of_body) {
      co_await app->writes_done();
      ended = true;
    }
  }
  app->release_writer();
  done->finished = true;
  done->timer.cancel();
}

}  // namespace

asio::awaitable<void> GrpcAppChannel::proxy(ServerCall& call, const CallHead& head) {
  auto app = ClientStream::create();
  add_request_metadata(app->context(), head);
  app->start(*stub_, "/" + head.method);
  auto executor = co_await asio::this_coro::executor;
  auto upstream = std::make_shared<PumpDone>(executor);
  asio::co_spawn(executor, pump_to_app(call, app, upstream), asio::detached);

  bool head_sent = false;
  bool caller_gone = false;
  auto send_head = [&]() -> asio::awaitable<bool> {
    head_sent = true;
    ResponseHead rh{200, headers_from_metadata(app->context().GetServerInitialMetadata())};
    co_return (co_await call.write_head(rh)).status == SKIFF_OK;
  };
  grpc::ByteBuffer msg;
  while (!caller_gone && co_await app->read(msg)) {
    if (!head_sent && !co_await send_head()) caller_gone = true;
    std::string frame = to_frame(msg);
    if (!caller_gone && (co_await call.write(frame, false)).status != SKIFF_OK) caller_gone = true;
    if (caller_gone) app->context().TryCancel();
  }
  // The app finished (or was cancelled): no more writes to it, then its final status.
  app->release_writer();
  app->release_reader();
  grpc::Status status = co_await app->finished();
  if (!caller_gone && (head_sent || co_await send_head())) {
    GrpcCallEnd end{status.error_code(), status.error_message(), status.error_details(),
                    headers_from_metadata(app->context().GetServerTrailingMetadata())};
    std::string frame = frame_end(end);
    co_await call.write(frame, true);
  } else if (!caller_gone) {
    co_await call.fail(SKIFF_ERR_CANCELLED, "call ended");
  }
  // The call is read by the pump: it must end before the call is released.
  if (!upstream->finished) {
    boost::system::error_code ec;
    co_await upstream->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace skiff
