// The C ABI side of a bundled transport: the vtable trampolines, the component and plugin tables
// and the two exported symbols. The transport class provides listen, shutdown and call_start; its
// client call class write, read_head, read, cancel and release; its server call class read,
// write_head, write, fail and release. The plugin provides create() (configuration parsing) and
// set_credentials, and one SKIFF_BUNDLED_TRANSPORT line.
#ifndef SKIFF_PLUGINS_COMMON_TRANSPORT_ABI_HPP
#define SKIFF_PLUGINS_COMMON_TRANSPORT_ABI_HPP

#include "bundled_plugin.hpp"
#include "skiff/plugin.hpp"

namespace skiff::plugins {

template <typename Transport, typename ClientCall, typename ServerCall>
struct TransportAbi {
  static Transport* self(void* instance) { return static_cast<Transport*>(instance); }
  static ClientCall* client(skiff_client_call_t* c) { return reinterpret_cast<ClientCall*>(c); }
  static ServerCall* server(skiff_server_call_t* c) { return reinterpret_cast<ServerCall*>(c); }

  static void destroy(void* instance) { delete self(instance); }
  static skiff_status_t listen(void* instance, skiff_str_t address, uint16_t port,
                               const skiff_inbound_handler_t* handler, uint16_t* bound_port,
                               skiff_errbuf_t err) {
    return sdk::guard(err, [&] {
      return self(instance)->listen(sdk::view(address), port, handler, bound_port, err);
    });
  }
  static void shutdown(void* instance, skiff_done_fn done, void* ud) {
    self(instance)->shutdown(done, ud);
  }
  static skiff_status_t call_start(void* instance, skiff_str_t address,
                                   const skiff_call_head_t* head, skiff_client_call_t** call,
                                   skiff_errbuf_t err) {
    return sdk::guard(
        err, [&] { return self(instance)->call_start(sdk::view(address), head, call, err); });
  }

  static void call_write(skiff_client_call_t* c, skiff_bytes_t chunk, int32_t end,
                         skiff_done_fn done, void* ud) {
    client(c)->write(chunk, end != 0, done, ud);
  }
  static void call_read_head(skiff_client_call_t* c, skiff_head_done_fn done, void* ud) {
    client(c)->read_head(done, ud);
  }
  static void call_read(skiff_client_call_t* c, skiff_read_done_fn done, void* ud) {
    client(c)->read(done, ud);
  }
  static void call_cancel(skiff_client_call_t* c) { client(c)->cancel(); }
  static void call_release(skiff_client_call_t* c) { client(c)->release(); }

  static void server_read(skiff_server_call_t* c, skiff_read_done_fn done, void* ud) {
    server(c)->read(done, ud);
  }
  static void server_write_head(skiff_server_call_t* c, const skiff_response_head_t* head,
                                skiff_done_fn done, void* ud) {
    server(c)->write_head(head, done, ud);
  }
  static void server_write(skiff_server_call_t* c, skiff_bytes_t chunk, int32_t end,
                           skiff_done_fn done, void* ud) {
    server(c)->write(chunk, end != 0, done, ud);
  }
  static void server_fail(skiff_server_call_t* c, skiff_status_t status, skiff_str_t message,
                          skiff_done_fn done, void* ud) {
    server(c)->fail(status, sdk::view(message), done, ud);
  }
  static void server_release(skiff_server_call_t* c) { server(c)->release(); }

  using CreateFn = skiff_status_t (*)(const skiff_host_api_t*, const skiff_config_t*, void**,
                                      skiff_errbuf_t);
  using CredentialsFn = skiff_status_t (*)(void*, const skiff_tls_credentials_t*, skiff_errbuf_t);
  static constexpr skiff_transport_vtable_v1_t vtable(CreateFn create,
                                                      CredentialsFn set_credentials) {
    return {sizeof(skiff_transport_vtable_v1_t),
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
  }
};

}  // namespace skiff::plugins

// Defines the plugin `plugin_name` with one transport component `type_name`; `check_fn` checks a
// configuration as `create_fn` would, starting nothing. Use once, at namespace scope, outside any
// namespace.
#define SKIFF_BUNDLED_TRANSPORT(Transport, ClientCall, ServerCall, create_fn, check_fn,           \
                                credentials_fn, type_name, plugin_name)                           \
  namespace {                                                                                     \
  constexpr skiff_transport_vtable_v1_t kTransportVtable =                                        \
      skiff::plugins::TransportAbi<Transport, ClientCall, ServerCall>::vtable(create_fn,          \
                                                                              credentials_fn);    \
  const skiff_component_t kTransportComponent = {sizeof(skiff_component_t), SKIFF_KIND_TRANSPORT, \
                                                 type_name, &kTransportVtable, check_fn};         \
  }                                                                                               \
  SKIFF_BUNDLED_PLUGIN(kTransportComponent, plugin_name)

#endif  // SKIFF_PLUGINS_COMMON_TRANSPORT_ABI_HPP
