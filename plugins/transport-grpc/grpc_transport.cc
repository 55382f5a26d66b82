#include "grpc_transport.hpp"

#include <absl/synchronization/mutex.h>
#include <grpc/support/log.h>

#include <atomic>
#include <cstdlib>

#include "client_call.hpp"
#include "server_call.hpp"
#include "transport_abi.hpp"

namespace skiff::grpc_transport {

using sdk::str;
using sdk::view;

void fill_headers(const skiff_header_t* headers, size_t count,
                  google::protobuf::RepeatedPtrField<pb::Header>* out) {
  out->Reserve(static_cast<int>(count));
  for (size_t i = 0; i < count; ++i) {
    auto* h = out->Add();
    h->set_name(std::string(view(headers[i].name)));
    h->set_value(std::string(view(headers[i].value)));
  }
}

std::vector<skiff_header_t> header_views(
    const google::protobuf::RepeatedPtrField<pb::Header>& headers) {
  std::vector<skiff_header_t> out;
  out.reserve(headers.size());
  for (const auto& h : headers) out.push_back(skiff_header_t{str(h.name()), str(h.value())});
  return out;
}

grpc::ServerBidiReactor<pb::Frame, pb::Frame>* Service::Call(grpc::CallbackServerContext* context) {
  return new ServerCall(transport_, context);
}

GrpcTransport::GrpcTransport(const skiff_host_api_t* host, Settings settings)
    : host_(host), settings_(settings) {}

GrpcTransport::~GrpcTransport() {
  if (shutdown_thread_.joinable()) shutdown_thread_.join();
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
}

void GrpcTransport::log(int32_t level, const std::string& message) const {
  host_->log(host_->host, level, str("transport-grpc"), str(message));
}

skiff_status_t GrpcTransport::listen(std::string_view address, uint16_t port,
                                     const skiff_inbound_handler_t* handler, uint16_t* bound_port,
                                     skiff_errbuf_t err) {
  if (server_) {
    skiff_errbuf_set(err, "already listening");
    return SKIFF_ERR_FAILED_PRECONDITION;
  }
  handler_ = *handler;
  std::string host(address);
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  int selected = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(host + ":" + std::to_string(port),
                           tls_ ? tls_->server_credentials() : grpc::InsecureServerCredentials(),
                           &selected);
  builder.RegisterService(&service_);
  // Two sidecars must never share a port silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(-1);
  builder.SetMaxSendMessageSize(-1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             static_cast<int>(settings_.keepalive_time_ms / 2));
  server_ = builder.BuildAndStart();
  if (!server_ || selected == 0) {
    server_.reset();
    skiff_errbuf_set(err, "address in use or not available");
    return SKIFF_ERR_UNAVAILABLE;
  }
  *bound_port = static_cast<uint16_t>(selected);
  return SKIFF_OK;
}

void GrpcTransport::shutdown(skiff_done_fn done, void* user_data) {
  if (!server_ || shutdown_thread_.joinable()) return done(user_data, SKIFF_OK, str(""));
  // Server::Shutdown blocks while calls drain; keep that off the host's threads.
  shutdown_thread_ = std::thread([this, done, user_data] {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(settings_.shutdown_grace_ms));
    done(user_data, SKIFF_OK, str(""));
  });
}

pb::Invocation::Stub* GrpcTransport::stub_for(const std::string& address,
                                              const skiff_call_head_t& head) {
  std::string key = address;
  if (tls_)
    key.append(1, '\0')
        .append(view(head.target_namespace))
        .append(1, '\0')
        .append(view(head.target_app_id));
  std::lock_guard lock(channels_mu_);
  auto& stub = stubs_[key];
  if (!stub) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    // A restarted peer must be found again quickly, not after gRPC's default 120 s backoff.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                static_cast<int>(settings_.max_reconnect_backoff_ms));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(settings_.keepalive_time_ms));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(settings_.keepalive_timeout_ms));
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // A peer nobody calls any more (it went away) stops costing reconnect attempts.
    args.SetInt(GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS, 60000);
    auto credentials =
        tls_ ? tls_->channel_credentials(view(head.target_app_id), view(head.target_namespace))
             : grpc::InsecureChannelCredentials();
    auto channel = grpc::CreateCustomChannel(address, credentials, args);
    stub = pb::Invocation::NewStub(channel);
  }
  return stub.get();
}

skiff_status_t GrpcTransport::call_start(std::string_view address, const skiff_call_head_t* head,
                                         skiff_client_call_t** call, skiff_errbuf_t err) {
  if (address.empty()) {
    skiff_errbuf_set(err, "empty peer address");
    return SKIFF_ERR_INVALID_ARGUMENT;
  }
  pb::CallHead h;
  h.set_target_app_id(std::string(view(head->target_app_id)));
  h.set_target_namespace(std::string(view(head->target_namespace)));
  h.set_caller_app_id(std::string(view(head->caller_app_id)));
  h.set_caller_namespace(std::string(view(head->caller_namespace)));
  h.set_method(std::string(view(head->method)));
  h.set_verb(std::string(view(head->verb)));
  h.set_query(std::string(view(head->query)));
  fill_headers(head->headers, head->header_count, h.mutable_headers());
  h.set_timeout_ms(head->timeout_ms);
  auto* c = new ClientCall(std::string(address), std::move(h));
  c->start(stub_for(std::string(address), *head));
  *call = reinterpret_cast<skiff_client_call_t*>(c);
  return SKIFF_OK;
}

skiff_status_t GrpcTransport::set_credentials(const skiff_tls_credentials_t* credentials,
                                              skiff_errbuf_t err) {
  if (credentials == nullptr) {
    if (!tls_) return SKIFF_OK;
    skiff_errbuf_set(err, "mTLS cannot be turned off while running");
    return SKIFF_ERR_FAILED_PRECONDITION;
  }
  if (!tls_ && server_) {
    skiff_errbuf_set(err, "mTLS must be turned on before listen");
    return SKIFF_ERR_FAILED_PRECONDITION;
  }
  auto fresh = tls_ ? nullptr : std::make_unique<TlsCredentials>(host_);
  auto why = (tls_ ? *tls_ : *fresh).install(*credentials);
  if (!why.empty()) {
    skiff_errbuf_set(err, why.c_str());
    return SKIFF_ERR_INVALID_ARGUMENT;
  }
  if (fresh) tls_ = std::move(fresh);
  return SKIFF_OK;
}

// ---- C ABI ----
namespace {

// gRPC's own log lines go through the host's logger (and so into plain or JSON logs), at debug
// level: skiffd reports what they lead to itself. gRPC's log hook is process-wide.
std::atomic<const skiff_host_api_t*> g_log_host{nullptr};

void forward_grpc_log(gpr_log_func_args* args) {
  if (const auto* host = g_log_host.load())
    host->log(host->host, SKIFF_LOG_DEBUG, str("grpc"), str(args->message));
}

// mTLS between sidecars is TLS 1.3 only, and gRPC 1.51 has no setting for the lowest version. It
// does take the TLS 1.2 cipher list from GRPC_SSL_CIPHER_SUITES, read once when the first TLS
// credentials are made: leaving only suites that need an RSA key makes every TLS 1.2 handshake
// fail for lack of a cipher, since workload keys are ECDSA P-256, while TLS 1.3 keeps its own
// suites. Set here, on the control thread at start-up, before gRPC starts a thread of its own;
// a value the user set is left alone (and may let TLS 1.2 through).
void refuse_tls12() {
  setenv("GRPC_SSL_CIPHER_SUITES", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384", 0);
}

// The configuration as create() takes it; throws std::invalid_argument naming the key.
Settings parse_config(const skiff_host_api_t* host, const skiff_config_t* config) {
  sdk::ConfigReader reader(host, config);
  static constexpr std::string_view kKeys[] = {"keepalive_time", "keepalive_timeout",
                                               "max_reconnect_backoff", "shutdown_grace"};
  reader.reject_unknown_keys(kKeys);
  Settings s;
  s.keepalive_time_ms = reader.duration_ms_or("keepalive_time", s.keepalive_time_ms);
  s.keepalive_timeout_ms = reader.duration_ms_or("keepalive_timeout", s.keepalive_timeout_ms);
  s.max_reconnect_backoff_ms =
      reader.duration_ms_or("max_reconnect_backoff", s.max_reconnect_backoff_ms);
  s.shutdown_grace_ms = reader.duration_ms_or("shutdown_grace", s.shutdown_grace_ms);
  if (s.keepalive_time_ms < 1000)
    throw std::invalid_argument(reader.describe("keepalive_time") + ": must be at least 1s");
  if (s.max_reconnect_backoff_ms < 100)
    throw std::invalid_argument(reader.describe("max_reconnect_backoff") +
                                ": must be at least 100ms");
  return s;
}

skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config, void** instance,
                      skiff_errbuf_t err) {
  return sdk::guard(err, [&]() -> skiff_status_t {
    Settings s = parse_config(host, config);
    g_log_host = host;
    gpr_set_log_function(forward_grpc_log);
    // Debian builds Abseil with its debug-mode deadlock detector on, which gRPC's mutexes then
    // pay for on every lock (a graph lookup per acquisition); it is a development aid only.
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    refuse_tls12();
    *instance = new GrpcTransport(host, s);
    return SKIFF_OK;
  });
}

// What check mode runs: the same parsing as create(), nothing started.
skiff_status_t check_config(const skiff_host_api_t* host, const skiff_config_t* config,
                            skiff_errbuf_t err) {
  return sdk::guard(err, [&]() -> skiff_status_t {
    parse_config(host, config);
    return SKIFF_OK;
  });
}

skiff_status_t set_credentials(void* instance, const skiff_tls_credentials_t* credentials,
                               skiff_errbuf_t err) {
  return sdk::guard(err, [&] {
    return static_cast<GrpcTransport*>(instance)->set_credentials(credentials, err);
  });
}

}  // namespace
}  // namespace skiff::grpc_transport

SKIFF_BUNDLED_TRANSPORT(skiff::grpc_transport::GrpcTransport, skiff::grpc_transport::ClientCall,
                        skiff::grpc_transport::ServerCall, skiff::grpc_transport::create,
                        skiff::grpc_transport::check_config, skiff::grpc_transport::set_credentials,
                        "grpc", "transport-grpc")
