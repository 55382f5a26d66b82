// C++ faces of plugin component instances: they own the plugin instance (and keep its library
// loaded), and expose the asynchronous operations as awaitables.
#pragma once

#include <toml++/toml.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "plugin/bridge.hpp"
#include "plugin/catalog.hpp"
#include "plugin/host_services.hpp"
#include "telemetry/spans.hpp"

namespace skiff {

// Borrowed C view of a CallHead; valid while the CallHead lives unchanged.
struct CallHeadView {
  explicit CallHeadView(const CallHead& head);
  skiff_call_head_t c{};
  std::vector<skiff_header_t> headers;
};
CallHead copy_call_head(const skiff_call_head_t& head);

// Common ownership of a created instance.
class ComponentInstance {
 public:
  ComponentInstance(const ComponentInstance&) = delete;
  ComponentInstance& operator=(const ComponentInstance&) = delete;
  const LoadedComponent& component() const { return component_; }

 protected:
  // `config` must outlive the instance: it is read in place so that its nodes keep their source
  // positions (toml++ drops them on copy), which plugins use to name file and line in errors.
  ComponentInstance(LoadedComponent component, const toml::table& config,
                    std::string config_prefix);
  // Runs the vtable's create(); the message names the plugin and why it failed.
  Status create(const skiff_host_api_t* host,
                skiff_status_t (*create_fn)(const skiff_host_api_t*, const skiff_config_t*, void**,
                                            skiff_errbuf_t));
  LoadedComponent component_;
  skiff_config_t config_handle_;
  void* instance_ = nullptr;
};

// Validates `config` ([<kind>.config]) for the component as its create() would, without starting
// anything: through the component's check_config, or for an older plugin by creating and
// destroying an instance (create never registers or listens). Resolvers and transports.
// `config_prefix` names the table in messages; empty: "<kind>.config".
Status check_component_config(const LoadedComponent& component, const skiff_host_api_t* host,
                              const toml::table& config, std::string config_prefix = {});

class ResolverInstance : public ComponentInstance {
 public:
  static Result<std::shared_ptr<ResolverInstance>> create(const LoadedComponent& component,
                                                          const skiff_host_api_t* host,
                                                          const toml::table& config);
  ~ResolverInstance();

  boost::asio::awaitable<DoneResult> register_self(const skiff_registration_t& self);
  boost::asio::awaitable<DoneResult> deregister_self();
  boost::asio::awaitable<ResolveResult> resolve(const std::string& app_id, const std::string& ns);
  void report_unavailable(const std::string& app_id, const std::string& ns,
                          const std::string& address);

 private:
  using ComponentInstance::ComponentInstance;
  const skiff_resolver_vtable_v1_t* vt() const {
    return static_cast<const skiff_resolver_vtable_v1_t*>(component_.vtable);
  }
};

// An observer (ABI kind SKIFF_KIND_OBSERVER): created and destroyed on the control thread.
class ObserverInstance : public ComponentInstance {
 public:
  // `config_prefix` names its table in messages ("metrics" for the Prometheus exposition).
  static Result<std::unique_ptr<ObserverInstance>> create(const LoadedComponent& component,
                                                          const skiff_host_api_t* host,
                                                          const toml::table& config,
                                                          std::string config_prefix);
  ~ObserverInstance();

  // Where its on_span goes, when it has one.
  std::optional<SpanSink::Exporter> span_exporter() const;
  // Its on_log and on_metrics, when it has them (null otherwise). Callable from any thread.
  bool takes_logs() const;
  void on_log(const skiff_log_record_t& record) const;
  bool takes_metrics() const;
  void on_metrics(const skiff_metric_t* const* metrics, size_t count) const;
  const std::string& config_prefix() const { return config_handle_.prefix; }

 private:
  using ComponentInstance::ComponentInstance;
  const skiff_observer_vtable_v1_t* vt() const {
    return static_cast<const skiff_observer_vtable_v1_t*>(component_.vtable);
  }
};

class TransportInstance;

// One outgoing call. Released when destroyed; the owner awaits every operation it starts.
class ClientCall {
 public:
  ClientCall(std::shared_ptr<TransportInstance> transport, skiff_client_call_t* call);
  ClientCall(ClientCall&& other) noexcept;
  ClientCall(const ClientCall&) = delete;
  ~ClientCall();

  // `chunk` must stay alive until the awaitable completes.
  boost::asio::awaitable<DoneResult> write(std::string_view chunk, bool end_of_body);
  boost::asio::awaitable<HeadResult> read_head();
  boost::asio::awaitable<ReadResult> read();
  void cancel();

 private:
  std::shared_ptr<TransportInstance> transport_;
  skiff_client_call_t* call_;
};

// One incoming call, as handed to the host by the transport.
class ServerCall {
 public:
  ServerCall(std::shared_ptr<TransportInstance> transport, skiff_server_call_t* call);
  ServerCall(ServerCall&& other) noexcept;
  ServerCall(const ServerCall&) = delete;
  ~ServerCall();

  boost::asio::awaitable<ReadResult> read();
  boost::asio::awaitable<DoneResult> write_head(const ResponseHead& head);
  boost::asio::awaitable<DoneResult> write(std::string_view chunk, bool end_of_body);
  // Arguments are captured by reference: they must outlive the co_await (as temporaries in the
  // awaiting full-expression do). Owning captures are avoided: GCC 12 mis-destroys them in
  // Asio 1.74's initiation coroutine.
  boost::asio::awaitable<DoneResult> fail(skiff_status_t status, const std::string& message);

  // How the call was answered, for metrics and logs: the response head's status, or the failure
  // given to fail(); both 0 while neither happened.
  struct Outcome {
    int http_status = 0;
    skiff_status_t failure = SKIFF_OK;
  };
  const Outcome& outcome() const { return outcome_; }

 private:
  std::shared_ptr<TransportInstance> transport_;
  skiff_server_call_t* call_;
  Outcome outcome_;
};

// Reads a call's body (ClientCall or ServerCall) to its end; an error carries the read's status.
template <typename Call>
boost::asio::awaitable<Result<std::string>> read_whole_body(Call& call) {
  std::string body;
  for (;;) {
    auto chunk = co_await call.read();
    if (chunk.status != SKIFF_OK) co_return make_error(chunk.status, chunk.message);
    if (body.empty())
      body = std::move(chunk.chunk);  // one piece: no copy
    else
      body.append(chunk.chunk);
    if (chunk.end_of_body) co_return body;
  }
}

class TransportInstance : public ComponentInstance,
                          public std::enable_shared_from_this<TransportInstance> {
 public:
  static Result<std::shared_ptr<TransportInstance>> create(const LoadedComponent& component,
                                                           const skiff_host_api_t* host,
                                                           const toml::table& config);
  ~TransportInstance();

  // Starts serving; `handler` must outlive shutdown(). Returns the bound port.
  Result<uint16_t> listen(const std::string& address, uint16_t port,
                          const skiff_inbound_handler_t* handler);
  boost::asio::awaitable<DoneResult> shutdown();
  // Hands the transport TLS credentials (null: plaintext); an error says it cannot do mTLS.
  Status set_credentials(const skiff_tls_credentials_t* credentials);
  Result<ClientCall> start_call(const std::string& address, const CallHead& head);
  ServerCall adopt(skiff_server_call_t* call) { return ServerCall(shared_from_this(), call); }

  const skiff_transport_vtable_v1_t* vt() const {
    return static_cast<const skiff_transport_vtable_v1_t*>(component_.vtable);
  }
  void* instance() const { return instance_; }

 private:
  using ComponentInstance::ComponentInstance;
};

}  // namespace skiff
