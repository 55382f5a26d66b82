#include "api/grpc_api.hpp"

#include <fcntl.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>

#include "common/api_token.hpp"
#include "common/call_executor.hpp"
#include "dapr_api.pb.h"
#include "grpc/framing.hpp"
#include "grpc/metadata.hpp"
#include "http/messages.hpp"

namespace skiff {

namespace asio = boost::asio;
namespace rt = dapr::proto::runtime::v1;
namespace common = dapr::proto::common::v1;

namespace {

constexpr std::string_view kDaprService = "/dapr.proto.runtime.v1.Dapr/";

grpc::Status status(skiff_status_t code, const std::string& message) {
  return grpc::Status(static_cast<grpc::StatusCode>(code), message);
}

uint64_t timeout_ms_of(const grpc::ServerContextBase& ctx) {
  auto deadline = ctx.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return 0;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::system_clock::now());
  return static_cast<uint64_t>(std::max<int64_t>(1, left.count()));
}

const char* verb_name(common::HTTPExtension::Verb v) {
  switch (v) {
    case common::HTTPExtension::GET:
      return "GET";
    case common::HTTPExtension::HEAD:
      return "HEAD";
    case common::HTTPExtension::PUT:
      return "PUT";
    case common::HTTPExtension::DELETE:
      return "DELETE";
    case common::HTTPExtension::CONNECT:
      return "CONNECT";
    case common::HTTPExtension::OPTIONS:
      return "OPTIONS";
    case common::HTTPExtension::TRACE:
      return "TRACE";
    case common::HTTPExtension::PATCH:
      return "PATCH";
    default:
      return "POST";  // POST, and NONE (which Dapr's SDKs send for "no HTTP verb")
  }
}

}  // namespace

GrpcApi::GrpcApi(asio::io_context& io, const Settings& settings, Caller& caller,
                 const SidecarInfo& info)
    : io_(io), settings_(settings), caller_(caller), info_(info) {
  grpc::ServerBuilder builder;
  // Proxied messages are limited by the apps at both ends, not here; InvokeService checks
  // api.max_body_size itself.
  builder.SetMaxReceiveMessageSize(-1);
  builder.SetMaxSendMessageSize(-1);
  builder.RegisterCallbackGenericService(this);
  server_ = builder.BuildAndStart();  // no port: skiffd's listener hands connections over
}

GrpcApi::~GrpcApi() {
  shutdown();
  if (shutdown_thread_.joinable()) shutdown_thread_.join();
}

void GrpcApi::serve_socket(int fd) {
  if (!server_) {
    ::close(fd);
    return;
  }
  // grpc++ expects a non-blocking descriptor and owns it from here on.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  grpc::AddInsecureChannelFromFd(server_.get(), fd);
}

void GrpcApi::shutdown() {
  if (!server_ || shutdown_thread_.joinable()) return;
  // Server::Shutdown blocks while calls drain: never on an event-loop thread they need.
  shutdown_thread_ = std::thread([server = server_.get()] {
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  });
}

grpc::ServerGenericBidiReactor* GrpcApi::CreateReactor(grpc::GenericCallbackServerContext* ctx) {
  auto stream = ServerStream::create(ctx);
  // The token and API logging as the last reload left them.
  const auto now = caller_.settings_now();
  if (now->api_logging) stream->log_on_finish(now->log_json);
  const std::string& method = ctx->method();
  auto spawn = [&](asio::awaitable<void> work) {
    asio::co_spawn(call_executor(io_), std::move(work), asio::detached);
  };
  if (!now->api_token.empty()) {
    const auto& md = ctx->client_metadata();
    auto it = md.find(std::string(kApiTokenHeader));
    std::string_view given = it == md.end()
                                 ? std::string_view()
                                 : std::string_view(it->second.data(), it->second.size());
    if (!api_token_matches(now->api_token, given)) {
      stream->finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid api token"));
      return stream.get();
    }
  }
  if (method == "/dapr.proto.runtime.v1.Dapr/InvokeService") {
    spawn(invoke_service(stream));
  } else if (method == "/dapr.proto.runtime.v1.Dapr/GetMetadata") {
    spawn(get_metadata(stream));
  } else if (method.starts_with(kDaprService)) {
    stream->finish(
        grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                     "skiff does not implement " + method + "; it serves service invocation only"));
  } else {
    // Proxy mode: the target comes from metadata, as with Dapr.
    const auto& md = ctx->client_metadata();
    auto it = md.find("dapr-callee-app-id");
    if (it == md.end()) it = md.find("dapr-app-id");
    if (it == md.end()) {
      stream->finish(grpc::Status(grpc::StatusCode::UNKNOWN,
                                  "failed to proxy request: required metadata dapr-callee-app-id "
                                  "or dapr-app-id not found"));
    } else {
      auto target = split_app_id(std::string_view(it->second.data(), it->second.size()),
                                 settings_.app_namespace);
      if (!target) {
        stream->finish(status(SKIFF_ERR_INVALID_ARGUMENT, target.error().message));
      } else {
        target->method = method.substr(1);
        spawn(proxy(stream, std::move(*target)));
      }
    }
  }
  return stream.get();
}

asio::awaitable<void> GrpcApi::get_metadata(std::shared_ptr<ServerStream> s) {
  auto tracked = caller_.track();  // shutdown waits for it like for any call
  grpc::ByteBuffer in;
  co_await s->read(in);  // GetMetadataRequest is empty; nothing in it to use
  rt::GetMetadataResponse res;
  res.set_id(settings_.app_id);
  res.set_runtime_version("skiff-" SKIFF_VERSION);
  (*res.mutable_extended_metadata())["namespace"] = settings_.app_namespace;
  for (const auto& c : components_now(info_, caller_)) {
    auto* rc = res.add_registered_components();
    rc->set_name(c.name);
    rc->set_type(c.type);
    rc->set_version(c.version);
  }
  for (const auto& e : caller_.settings_now()->http_endpoints)
    res.add_http_endpoints()->set_name(e.name);
  auto* app = res.mutable_app_connection_properties();
  app->set_port(static_cast<int32_t>(settings_.app_port));
  app->set_protocol(settings_.app_protocol);
  app->set_channel_address(settings_.app_channel_address);
  app->set_max_concurrency(-1);
  res.mutable_actor_runtime()->set_runtime_status(rt::ActorRuntime::DISABLED);
  grpc::ByteBuffer out = to_buffer(res.SerializeAsString());
  if (co_await s->write(out))
    s->finish(grpc::Status::OK);
  else
    s->finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
}

asio::awaitable<void> GrpcApi::invoke_service(std::shared_ptr<ServerStream> s) {
  auto tracked = caller_.track();
  grpc::ByteBuffer in;
  if (!co_await s->read(in)) {
    s->finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
    co_return;
  }
  if (in.Valid() && in.Length() > settings_.max_body_size) {
    s->finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                           "request of " + std::to_string(in.Length()) +
                               " bytes exceeds api.max_body_size (" +
                               std::to_string(settings_.max_body_size) +
                               "); use gRPC proxy mode to stream larger messages"));
    co_return;
  }
  rt::InvokeServiceRequest req;
  if (!req.ParseFromString(to_bytes(in))) {
    s->finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "malformed InvokeServiceRequest"));
    co_return;
  }
  auto target = split_app_id(req.id(), settings_.app_namespace);
  if (!target) {
    s->finish(status(SKIFF_ERR_INVALID_ARGUMENT, target.error().message));
    co_return;
  }
  const auto& msg = req.message();
  auto method = normalize_method(encode_method(msg.method()));
  if (!method) {
    s->finish(status(SKIFF_ERR_INVALID_ARGUMENT, method.error().message));
    co_return;
  }
  target->method = std::move(*method);
  target->query = msg.http_extension().querystring();

  auto& ctx = s->context();
  CallHead head = caller_.base_head(*target);
  head.verb = verb_name(msg.http_extension().verb());
  head.headers = headers_from_metadata(ctx.client_metadata());
  std::erase_if(head.headers, [](const Header& h) {
    return h.name == "dapr-app-id" || h.name == "dapr-callee-app-id";
  });
  if (!msg.content_type().empty()) head.headers.push_back({"Content-Type", msg.content_type()});
  // A gRPC callee app gets the Any whole (between sidecars only; HTTP apps never see it).
  if (!msg.data().type_url().empty())
    head.headers.push_back({"skiff-any-type", msg.data().type_url()});
  caller_.add_caller_headers(head, s->call_context(), /*server_span=*/true);
  record_server_span(*s, "dapr.proto.runtime.v1.Dapr/InvokeService");
  head.timeout_ms = timeout_ms_of(ctx);

  const std::string& body = msg.data().value();
  auto opened = co_await caller_.open(*target, head, s->call_context(), &body, nullptr);
  if (!opened) {
    s->finish(status(opened.error().code,
                     "fail to invoke, id: " + target->app_id + ", err: " + opened.error().message));
    co_return;
  }
  // A middleware's rejection comes with its answer; any other call's is read from the target.
  Result<std::string> whole = std::move(opened->local_body);
  if (opened->call) {
    // A client that cancels (or whose deadline passes) cancels the call on both sidecars.
    auto call = std::make_shared<ClientCall>(std::move(*opened->call));
    s->set_on_cancel([call] { call->cancel(); });
    whole = co_await read_whole_body(*call);
  }
  if (!whole) {
    s->finish(
        status(whole.error().code, "fail to invoke, id: " + target->app_id +
                                       ", err: response interrupted: " + whole.error().message));
    co_return;
  }
  std::string& answer = *whole;

  const auto& rh = opened->head;
  std::string content_type;
  std::optional<int> app_code;  // set when the callee is a gRPC app that answered with an error
  std::string app_message;
  std::string type_url;
  for (const auto& h : rh.headers) {
    if (h.name == "skiff-any-type") type_url = h.value;
    if (boost::beast::iequals(h.name, "Content-Type")) content_type = h.value;
    if (h.name == "skiff-grpc-status") app_code = std::atoi(h.value.c_str());
    if (h.name == "skiff-grpc-message") app_message = h.value;
  }
  if (app_code && *app_code != 0) {
    s->finish(grpc::Status(static_cast<grpc::StatusCode>(*app_code), app_message));
    co_return;
  }
  // A gRPC app's answer has no HTTP status to report.
  if (!app_code) ctx.AddInitialMetadata("dapr-http-status", std::to_string(rh.http_status));
  for_each_metadata(rh.headers, [&](const std::string& n, const std::string& v) {
    ctx.AddInitialMetadata(n, v);
  });
  int code = status_for_http(static_cast<unsigned>(rh.http_status));
  if (code != 0) {
    // As Dapr: the status text as message; the headers (with dapr-http-status) go first.
    co_await s->send_initial_metadata();
    std::string text(http::obsolete_reason(static_cast<http::status>(rh.http_status)));
    if (rh.http_status == 418) text = "I'm a teapot";  // Go's StatusText knows it; Beast not
    if (text == "<unknown-status>") text.clear();
    s->finish(grpc::Status(static_cast<grpc::StatusCode>(code), text,
                           http_error_details(code, text, rh.http_status, answer)));
    co_return;
  }
  common::InvokeResponse res;
  res.mutable_data()->set_value(std::move(answer));
  res.mutable_data()->set_type_url(type_url);
  res.set_content_type(content_type);
  grpc::ByteBuffer out = to_buffer(res.SerializeAsString());
  if (co_await s->write(out))
    s->finish(grpc::Status::OK);
  else
    s->finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
}

namespace {

// Client messages -> frames on the transport, then the end of the request body.
asio::awaitable<void> pump_requests(std::shared_ptr<ServerStream> s,
                                    std::shared_ptr<ClientCall> call) {
  grpc::ByteBuffer msg;
  while (co_await s->read(msg)) {
    std::string frame = to_frame(msg);
    if ((co_await call->write(frame, false)).status != SKIFF_OK) co_return;
  }
  co_await call->write({}, true);
}

}  // namespace

void GrpcApi::record_server_span(ServerStream& s, std::string_view rpc) const {
  const auto& trace = s.call_context().trace;
  if (!caller_.spans() || !trace.recording || !trace.has_server_span) return;
  std::string name(rpc.starts_with('/') ? rpc.substr(1) : rpc);
  s.record_span_on_finish(*caller_.spans(), std::move(name), settings_.app_id);
}

asio::awaitable<void> GrpcApi::proxy(std::shared_ptr<ServerStream> s, InvokeTarget target) {
  auto tracked = caller_.track();
  auto& ctx = s->context();
  CallHead head = caller_.base_head(target);
  head.verb = "POST";
  head.headers = headers_from_metadata(ctx.client_metadata());
  std::erase_if(head.headers, [](const Header& h) { return h.name == "dapr-callee-app-id"; });
  caller_.add_caller_headers(head, s->call_context(), /*server_span=*/true);
  record_server_span(*s, target.method);
  head.headers.push_back({std::string(kGrpcProxyHeader), "1"});
  head.timeout_ms = timeout_ms_of(ctx);

  auto started = co_await caller_.connect(target, head, s->call_context());
  if (!started) {
    s->finish(status(started.error().code, "failed to proxy request to " + target.app_id + ": " +
                                               started.error().message));
    co_return;
  }
  auto call = std::make_shared<ClientCall>(std::move(*started));
  s->set_on_cancel([call] { call->cancel(); });
  asio::co_spawn(co_await asio::this_coro::executor, pump_requests(s, call), asio::detached);

  auto rh = co_await call->read_head();
  if (rh.status != SKIFF_OK) {
    s->finish(status(rh.status, rh.message));
    co_return;
  }
  for_each_metadata(rh.head.headers, [&](const std::string& n, const std::string& v) {
    ctx.AddInitialMetadata(n, v);
  });
  Deframer frames;
  for (;;) {
    auto chunk = co_await call->read();
    if (chunk.status != SKIFF_OK) {
      s->finish(status(chunk.status, chunk.message));
      co_return;
    }
    frames.feed(chunk.chunk);
    while (auto f = frames.next()) {
      if (f->end) {
        auto end = parse_end(f->payload);
        if (!end) {
          s->finish(grpc::Status(grpc::StatusCode::INTERNAL, "malformed end of a proxied call"));
          co_return;
        }
        // From the far side of the internal port: grpc++ aborts on metadata it cannot send.
        for_each_metadata(end->trailers, [&](const std::string& n, const std::string& v) {
          ctx.AddTrailingMetadata(n, v);
        });
        s->finish(
            grpc::Status(static_cast<grpc::StatusCode>(end->code), end->message, end->details));
        co_return;
      }
      grpc::ByteBuffer out = to_buffer(f->payload);
      if (!co_await s->write(out)) {
        call->cancel();  // the client went away
        s->finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
        co_return;
      }
    }
    if (chunk.end_of_body) {
      s->finish(grpc::Status(grpc::StatusCode::INTERNAL,
                             "the target's sidecar ended the call without a status"));
      co_return;
    }
  }
}

}  // namespace skiff
