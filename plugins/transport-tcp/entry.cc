// transport-tcp's C ABI: the descriptor, the vtable and configuration.
#include "client_call.hpp"
#include "server_conn.hpp"
#include "tcp_transport.hpp"

namespace skiff::tcp_transport {
namespace {

using sdk::str;
using sdk::view;

TcpTransport* self(void* instance) {
  return static_cast<TcpTransport*>(instance);
}
ClientCall* client(skiff_client_call_t* c) {
  return reinterpret_cast<ClientCall*>(c);
}
ServerConn* server(skiff_server_call_t* c) {
  return reinterpret_cast<ServerConn*>(c);
}

skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config, void** instance,
                      skiff_errbuf_t err) {
  return sdk::guard(err, [&]() -> skiff_status_t {
    if (!SKIFF_HAS(host, skiff_host_api_t, io_close)) {
      skiff_errbuf_set(err, "needs a host with plugin ABI 1.1 or later (socket I/O)");
      return SKIFF_ERR_FAILED_PRECONDITION;
    }
    sdk::ConfigReader reader(host, config);
    static constexpr std::string_view kKeys[] = {"connect_timeout", "shutdown_grace",
                                                 "max_idle_connections"};
    reader.reject_unknown_keys(kKeys);
    Settings s;
    s.connect_timeout_ms = reader.duration_ms_or("connect_timeout", s.connect_timeout_ms);
    s.shutdown_grace_ms = reader.duration_ms_or("shutdown_grace", s.shutdown_grace_ms);
    s.max_idle_connections = reader.int_or("max_idle_connections", s.max_idle_connections);
    if (s.connect_timeout_ms == 0)
      throw std::invalid_argument(reader.describe("connect_timeout") + ": must be more than 0");
    if (s.max_idle_connections < 0)
      throw std::invalid_argument(reader.describe("max_idle_connections") + ": must be 0 or more");
    *instance = new TcpTransport(host, s);
    return SKIFF_OK;
  });
}

void destroy(void* instance) {
  delete self(instance);
}

skiff_status_t set_credentials(void*, const skiff_tls_credentials_t* credentials,
                               skiff_errbuf_t err) {
  if (credentials == nullptr) return SKIFF_OK;
  skiff_errbuf_set(err, "transport-tcp does not support TLS in this version");
  return SKIFF_ERR_UNIMPLEMENTED;
}

skiff_status_t listen(void* instance, skiff_str_t address, uint16_t port,
                      const skiff_inbound_handler_t* handler, uint16_t* bound_port,
                      skiff_errbuf_t err) {
  return sdk::guard(
      err, [&] { return self(instance)->listen(view(address), port, handler, bound_port, err); });
}

void shutdown(void* instance, skiff_done_fn done, void* ud) {
  self(instance)->shutdown(done, ud);
}

skiff_status_t call_start(void* instance, skiff_str_t address, const skiff_call_head_t* head,
                          skiff_client_call_t** call, skiff_errbuf_t err) {
  return sdk::guard(err,
                    [&] { return self(instance)->call_start(view(address), head, call, err); });
}

void call_write(skiff_client_call_t* c, skiff_bytes_t chunk, int32_t eob, skiff_done_fn done,
                void* ud) {
  client(c)->write(chunk, eob != 0, done, ud);
}
void call_read_head(skiff_client_call_t* c, skiff_head_done_fn done, void* ud) {
  client(c)->read_head(done, ud);
}
void call_read(skiff_client_call_t* c, skiff_read_done_fn done, void* ud) {
  client(c)->read(done, ud);
}
void call_cancel(skiff_client_call_t* c) {
  client(c)->cancel();
}
void call_release(skiff_client_call_t* c) {
  client(c)->release();
}

void server_read(skiff_server_call_t* c, skiff_read_done_fn done, void* ud) {
  server(c)->read(done, ud);
}
void server_write_head(skiff_server_call_t* c, const skiff_response_head_t* head,
                       skiff_done_fn done, void* ud) {
  server(c)->write_head(head, done, ud);
}
void server_write(skiff_server_call_t* c, skiff_bytes_t chunk, int32_t eob, skiff_done_fn done,
                  void* ud) {
  server(c)->write(chunk, eob != 0, done, ud);
}
void server_fail(skiff_server_call_t* c, skiff_status_t status, skiff_str_t message,
                 skiff_done_fn done, void* ud) {
  server(c)->fail(status, view(message), done, ud);
}
void server_release(skiff_server_call_t* c) {
  server(c)->release();
}

const skiff_transport_vtable_v1_t kVtable = {sizeof(skiff_transport_vtable_v1_t),
                                             create,
                                             destroy,
                                             set_credentials,
                                             listen,
                                             shutdown,
                                             call_start,
                                             call_write,
                                             call_read_head,
                                             call_read,
                                             call_cancel,
                                             call_release,
                                             server_read,
                                             server_write_head,
                                             server_write,
                                             server_fail,
                                             server_release};
const skiff_component_t kComponent = {sizeof(skiff_component_t), SKIFF_KIND_TRANSPORT, "tcp",
                                      &kVtable};
const skiff_component_t* const kComponents[] = {&kComponent};
const skiff_plugin_info_t kInfo = {sizeof(skiff_plugin_info_t), "transport-tcp", "0.1.0",
                                   kComponents, 1};

}  // namespace
}  // namespace skiff::tcp_transport

extern "C" {
SKIFF_PLUGIN_DEFINE_ABI_VERSION();
skiff_status_t skiff_plugin_entry(const skiff_host_api_t*, const skiff_plugin_info_t** info,
                                  skiff_errbuf_t) {
  *info = &skiff::tcp_transport::kInfo;
  return SKIFF_OK;
}
}
