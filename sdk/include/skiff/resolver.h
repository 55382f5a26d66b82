/* skiff plugin ABI v1: name-resolution components (kind SKIFF_KIND_RESOLVER).
 *
 * A resolver registers this sidecar and turns (app id, namespace) into the internal addresses of
 * the live sidecars of that app.
 *
 * Threading contract:
 * - create() and destroy() run on the host's control thread, never concurrently with anything else
 *   on the same instance.
 * - All other functions may be called from any host thread, concurrently with each other, on the
 *   same instance: an instance must be thread-safe.
 * - None of them may block: no file, database or network call inside them. Work that blocks runs
 *   on the plugin's own worker; a cached answer may complete inline.
 * - Every asynchronous function calls its completion exactly once, from any thread, possibly
 *   before it returns. Completions must not block either: the host copies the results and posts
 *   its continuation.
 * - destroy() is called only after every completion of that instance has fired. */
#ifndef SKIFF_RESOLVER_H
#define SKIFF_RESOLVER_H

#include "skiff/host.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Completion of a call that produces nothing but a status. `message` (borrowed, may be empty)
 * says why on failure. */
typedef void (*skiff_done_fn)(void* user_data, skiff_status_t status, skiff_str_t message);

/* What this sidecar registers. All views borrowed for the call. */
typedef struct skiff_registration_t {
  uint32_t struct_size;
  skiff_str_t app_id;
  skiff_str_t app_namespace;
  skiff_str_t host;       /* address peers dial to reach this sidecar's internal port */
  uint16_t internal_port; /* sidecar-to-sidecar port (transport) */
  uint16_t http_port;     /* app-facing HTTP API port */
  uint16_t grpc_port;     /* app-facing gRPC API port, 0 when not served */
  uint16_t app_port;      /* the application's own port, 0 when there is none */
} skiff_registration_t;

typedef struct skiff_resolve_request_t {
  uint32_t struct_size;
  skiff_str_t app_id;
  skiff_str_t app_namespace;
} skiff_resolve_request_t;

/* Completion of resolve(). On SKIFF_OK `addresses` holds `count` "host:port" strings (borrowed for
 * the call), in the order the caller should try them: the resolver rotates the order from call to
 * call to spread load. SKIFF_ERR_NOT_FOUND means no live instance. */
typedef void (*skiff_resolve_done_fn)(void* user_data, skiff_status_t status,
                                      const skiff_str_t* addresses, size_t count,
                                      skiff_str_t message);

typedef struct skiff_resolver_vtable_v1_t {
  uint32_t struct_size; /* sizeof(skiff_resolver_vtable_v1_t) as the plugin was built */

  /* Creates an instance from its configuration table. On failure returns an error status, writes
   * why into err (naming the key, see config_describe) and leaves *instance unset. */
  skiff_status_t (*create)(const skiff_host_api_t* host, const skiff_config_t* config,
                           void** instance, skiff_errbuf_t err);
  void (*destroy)(void* instance);

  /* Registers this sidecar and keeps the registration alive (heartbeats) until deregister_self or
   * destroy. Called once, after create. */
  void (*register_self)(void* instance, const skiff_registration_t* self, skiff_done_fn done,
                        void* user_data);
  /* Removes the registration (graceful shutdown). */
  void (*deregister_self)(void* instance, skiff_done_fn done, void* user_data);

  /* Resolves an app. *op_id receives a non-zero id for cancel(), or 0 when the call completed
   * inline. */
  void (*resolve)(void* instance, const skiff_resolve_request_t* request,
                  skiff_resolve_done_fn done, void* user_data, uint64_t* op_id);

  /* Optional. Asks a pending resolve to complete soon with SKIFF_ERR_CANCELLED; harmless for an
   * id that already completed. The completion still fires exactly once. */
  void (*cancel)(void* instance, uint64_t op_id);

  /* Optional. The host could not reach `address` of `app_id` (connection refused, unavailable):
   * the resolver should stop handing it out until it proves live again. */
  void (*report_unavailable)(void* instance, skiff_str_t app_id, skiff_str_t app_namespace,
                             skiff_str_t address);
} skiff_resolver_vtable_v1_t;

#ifdef __cplusplus
}
#endif
#endif /* SKIFF_RESOLVER_H */
