#include "plugin/components.hpp"

namespace skiff {

CallHeadView::CallHeadView(const CallHead& h) : headers(header_views(h.headers)) {
  c.struct_size = sizeof(skiff_call_head_t);
  c.target_app_id = str(h.target_app_id);
  c.target_namespace = str(h.target_namespace);
  c.caller_app_id = str(h.caller_app_id);
  c.caller_namespace = str(h.caller_namespace);
  c.method = str(h.method);
  c.verb = str(h.verb);
  c.query = str(h.query);
  c.headers = headers.data();
  c.header_count = headers.size();
  c.timeout_ms = h.timeout_ms;
  c.peer_identity = str(h.peer_identity);
}

CallHead copy_call_head(const skiff_call_head_t& h) {
  CallHead out;
  out.target_app_id = view(h.target_app_id);
  out.target_namespace = view(h.target_namespace);
  out.caller_app_id = view(h.caller_app_id);
  out.caller_namespace = view(h.caller_namespace);
  out.method = view(h.method);
  out.verb = view(h.verb);
  out.query = view(h.query);
  out.headers = copy_headers(h.headers, h.header_count);
  out.timeout_ms = h.timeout_ms;
  // Older plugins may hand a shorter head; read what fits.
  if (offsetof(skiff_call_head_t, peer_identity) + sizeof(skiff_str_t) <= h.struct_size)
    out.peer_identity = view(h.peer_identity);
  return out;
}

ComponentInstance::ComponentInstance(LoadedComponent component, const toml::table& config,
                                     std::string config_prefix)
    : component_(std::move(component)), config_handle_{&config, std::move(config_prefix)} {}

Status ComponentInstance::create(const skiff_host_api_t* host,
                                 skiff_status_t (*create_fn)(const skiff_host_api_t*,
                                                             const skiff_config_t*, void**,
                                                             skiff_errbuf_t)) {
  char message[1024] = "";
  skiff_status_t status = SKIFF_ERR_INTERNAL;
  try {
    status = create_fn(host, &config_handle_, &instance_, skiff_errbuf_t{message, sizeof message});
  } catch (...) {
    instance_ = nullptr;
    return make_error(SKIFF_ERR_INTERNAL,
                      component_.file.string() + ": " + std::string(kind_name(component_.kind)) +
                          " '" + component_.type_name +
                          "': create threw a C++ exception across the boundary");
  }
  if (status != SKIFF_OK) {
    instance_ = nullptr;
    return make_error(status, component_.file.string() + ": " +
                                  std::string(kind_name(component_.kind)) + " '" +
                                  component_.type_name + "': create failed: " + message);
  }
  return Ok{};
}

Status check_component_config(const LoadedComponent& component, const skiff_host_api_t* host,
                              const toml::table& config, std::string config_prefix) {
  if (!component.check_config) {
    Status created = Ok{};
    if (component.kind == SKIFF_KIND_RESOLVER) {
      if (auto r = ResolverInstance::create(component, host, config); !r) created = r.error();
    } else if (component.kind == SKIFF_KIND_TRANSPORT) {
      if (auto t = TransportInstance::create(component, host, config); !t) created = t.error();
    }
    return created;
  }
  const std::string which = component.file.string() + ": " +
                            std::string(kind_name(component.kind)) + " '" + component.type_name +
                            "': ";
  if (config_prefix.empty()) config_prefix = std::string(kind_name(component.kind)) + ".config";
  skiff_config_t handle{&config, std::move(config_prefix)};
  char message[1024] = "";
  skiff_status_t status = SKIFF_ERR_INTERNAL;
  try {
    status = component.check_config(host, &handle, skiff_errbuf_t{message, sizeof message});
  } catch (...) {
    return make_error(SKIFF_ERR_INTERNAL,
                      which + "check_config threw a C++ exception across the boundary");
  }
  if (status != SKIFF_OK) return make_error(status, which + message);
  return Ok{};
}

// ---- observer ----

Result<std::unique_ptr<ObserverInstance>> ObserverInstance::create(const LoadedComponent& component,
                                                                   const skiff_host_api_t* host,
                                                                   const toml::table& config,
                                                                   std::string config_prefix) {
  std::unique_ptr<ObserverInstance> o(
      new ObserverInstance(component, config, std::move(config_prefix)));
  auto st = o->ComponentInstance::create(host, o->vt()->create);
  if (!st) return st.error();
  return o;
}

ObserverInstance::~ObserverInstance() {
  if (instance_) vt()->destroy(instance_);
}

std::optional<SpanSink::Exporter> ObserverInstance::span_exporter() const {
  if (!SKIFF_HAS(vt(), skiff_observer_vtable_v1_t, on_span) || !vt()->on_span) return std::nullopt;
  return SpanSink::Exporter{instance_, vt()->on_span};
}

bool ObserverInstance::takes_logs() const {
  return SKIFF_HAS(vt(), skiff_observer_vtable_v1_t, on_log) && vt()->on_log;
}

void ObserverInstance::on_log(const skiff_log_record_t& record) const {
  vt()->on_log(instance_, &record);
}

bool ObserverInstance::takes_metrics() const {
  return SKIFF_HAS(vt(), skiff_observer_vtable_v1_t, on_metrics) && vt()->on_metrics;
}

void ObserverInstance::on_metrics(const skiff_metric_t* const* metrics, size_t count) const {
  vt()->on_metrics(instance_, metrics, count);
}

// ---- resolver ----

Result<std::shared_ptr<ResolverInstance>> ResolverInstance::create(const LoadedComponent& component,
                                                                   const skiff_host_api_t* host,
                                                                   const toml::table& config) {
  std::shared_ptr<ResolverInstance> r(new ResolverInstance(component, config, "resolver.config"));
  auto st = r->ComponentInstance::create(host, r->vt()->create);
  if (!st) return st.error();
  return r;
}

ResolverInstance::~ResolverInstance() {
  if (instance_) vt()->destroy(instance_);
}

boost::asio::awaitable<DoneResult> ResolverInstance::register_self(
    const skiff_registration_t& self) {
  return await_completion<DoneResult>([this, &self](Completion<DoneResult>* c) {
    vt()->register_self(instance_, &self, complete_done, c);
  });
}

boost::asio::awaitable<DoneResult> ResolverInstance::deregister_self() {
  return await_completion<DoneResult>(
      [this](Completion<DoneResult>* c) { vt()->deregister_self(instance_, complete_done, c); });
}

boost::asio::awaitable<ResolveResult> ResolverInstance::resolve(const std::string& app_id,
                                                                const std::string& ns) {
  return await_completion<ResolveResult>([this, &app_id, &ns](Completion<ResolveResult>* c) {
    skiff_resolve_request_t req{sizeof(skiff_resolve_request_t), str(app_id), str(ns)};
    uint64_t op_id = 0;
    vt()->resolve(instance_, &req, complete_resolve, c, &op_id);
  });
}

void ResolverInstance::report_unavailable(const std::string& app_id, const std::string& ns,
                                          const std::string& address) {
  if (SKIFF_HAS(vt(), skiff_resolver_vtable_v1_t, report_unavailable))
    vt()->report_unavailable(instance_, str(app_id), str(ns), str(address));
}

// ---- transport ----

Result<std::shared_ptr<TransportInstance>> TransportInstance::create(
    const LoadedComponent& component, const skiff_host_api_t* host, const toml::table& config) {
  std::shared_ptr<TransportInstance> t(
      new TransportInstance(component, config, "transport.config"));
  auto st = t->ComponentInstance::create(host, t->vt()->create);
  if (!st) return st.error();
  return t;
}

TransportInstance::~TransportInstance() {
  if (instance_) vt()->destroy(instance_);
}

Status TransportInstance::set_credentials(const skiff_tls_credentials_t* credentials) {
  char message[512] = "has no TLS (set_credentials is NULL)";
  if (vt()->set_credentials == nullptr) {
    if (!credentials) return Ok{};
    return make_error(SKIFF_ERR_UNIMPLEMENTED,
                      "transport '" + component_.type_name + "': " + message);
  }
  message[0] = '\0';
  auto st = vt()->set_credentials(instance_, credentials, skiff_errbuf_t{message, sizeof message});
  if (st != SKIFF_OK) return make_error(st, "transport '" + component_.type_name + "': " + message);
  return Ok{};
}

Result<uint16_t> TransportInstance::listen(const std::string& address, uint16_t port,
                                           const skiff_inbound_handler_t* handler) {
  char message[512] = "";
  uint16_t bound = 0;
  auto st = vt()->listen(instance_, str(address), port, handler, &bound,
                         skiff_errbuf_t{message, sizeof message});
  if (st != SKIFF_OK)
    return make_error(st, "transport '" + component_.type_name + "' cannot listen on " + address +
                              ":" + std::to_string(port) + ": " + message);
  return bound;
}

boost::asio::awaitable<DoneResult> TransportInstance::shutdown() {
  return await_completion<DoneResult>(
      [this](Completion<DoneResult>* c) { vt()->shutdown(instance_, complete_done, c); });
}

Result<ClientCall> TransportInstance::start_call(const std::string& address, const CallHead& head) {
  CallHeadView hv(head);
  skiff_client_call_t* call = nullptr;
  char message[512] = "";
  auto st = vt()->call_start(instance_, str(address), &hv.c, &call,
                             skiff_errbuf_t{message, sizeof message});
  if (st != SKIFF_OK || call == nullptr) return make_error(st ? st : SKIFF_ERR_INTERNAL, message);
  return ClientCall(shared_from_this(), call);
}

ClientCall::ClientCall(std::shared_ptr<TransportInstance> transport, skiff_client_call_t* call)
    : transport_(std::move(transport)), call_(call) {}
ClientCall::ClientCall(ClientCall&& o) noexcept
    : transport_(std::move(o.transport_)), call_(o.call_) {
  o.call_ = nullptr;
}
ClientCall::~ClientCall() {
  if (call_) transport_->vt()->call_release(call_);
}

boost::asio::awaitable<DoneResult> ClientCall::write(std::string_view chunk, bool end_of_body) {
  return await_completion<DoneResult>([this, chunk, end_of_body](Completion<DoneResult>* c) {
    skiff_bytes_t b{reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()};
    transport_->vt()->call_write(call_, b, end_of_body ? 1 : 0, complete_done, c);
  });
}

boost::asio::awaitable<HeadResult> ClientCall::read_head() {
  return await_completion<HeadResult>([this](Completion<HeadResult>* c) {
    transport_->vt()->call_read_head(call_, complete_head, c);
  });
}

boost::asio::awaitable<ReadResult> ClientCall::read() {
  return await_completion<ReadResult>(
      [this](Completion<ReadResult>* c) { transport_->vt()->call_read(call_, complete_read, c); });
}

void ClientCall::cancel() {
  transport_->vt()->call_cancel(call_);
}

ServerCall::ServerCall(std::shared_ptr<TransportInstance> transport, skiff_server_call_t* call)
    : transport_(std::move(transport)), call_(call) {}
ServerCall::ServerCall(ServerCall&& o) noexcept
    : transport_(std::move(o.transport_)), call_(o.call_), outcome_(o.outcome_) {
  o.call_ = nullptr;
}
ServerCall::~ServerCall() {
  if (call_) transport_->vt()->server_release(call_);
}

boost::asio::awaitable<ReadResult> ServerCall::read() {
  return await_completion<ReadResult>([this](Completion<ReadResult>* c) {
    transport_->vt()->server_read(call_, complete_read, c);
  });
}

boost::asio::awaitable<DoneResult> ServerCall::write_head(const ResponseHead& head) {
  outcome_.http_status = head.http_status;
  return await_completion<DoneResult>([this, &head](Completion<DoneResult>* c) {
    auto views = header_views(head.headers);
    skiff_response_head_t h{sizeof(skiff_response_head_t), head.http_status, views.data(),
                            views.size()};
    transport_->vt()->server_write_head(call_, &h, complete_done, c);
  });
}

boost::asio::awaitable<DoneResult> ServerCall::write(std::string_view chunk, bool end_of_body) {
  return await_completion<DoneResult>([this, chunk, end_of_body](Completion<DoneResult>* c) {
    skiff_bytes_t b{reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()};
    transport_->vt()->server_write(call_, b, end_of_body ? 1 : 0, complete_done, c);
  });
}

boost::asio::awaitable<DoneResult> ServerCall::fail(skiff_status_t status,
                                                    const std::string& message) {
  outcome_.failure = status;
  return await_completion<DoneResult>([this, status, &message](Completion<DoneResult>* c) {
    transport_->vt()->server_fail(call_, status, str(message), complete_done, c);
  });
}

}  // namespace skiff
