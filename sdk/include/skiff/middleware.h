/* skiff plugin ABI v1: middleware components (kind SKIFF_KIND_MIDDLEWARE).
 *
 * A middleware sees each invocation's head on the caller's sidecar (outbound, before resolution)
 * and on the callee's sidecar (inbound, before the app is called), and may edit headers or reject
 * the call. Every member below is there since 1.0.
 *
 * Not called yet: skiffd 0.1 (ABI 1.4) loads a plugin that offers a middleware component, lists
 * it in `skiff plugins list`, and calls none of its hooks. What will change before it does (and
 * is free to, since no host calls it): per-call state that pairs an outbound hook with its
 * response hook, and which side each hook runs on.
 *
 * Threading contract:
 * - create()/destroy() on the host's control thread.
 * - on_outbound/on_inbound/on_response run on host event-loop threads, concurrently for different
 *   calls: an instance must be thread-safe. They must not block; slow work (a token check against a
 *   server) goes to the plugin's worker and completes later.
 * - Each hook calls its completion exactly once, from any thread, possibly inline. The head and the
 *   edit handle stay valid until the completion fires, and not after.
 * - destroy() comes only after every completion fired. */
#ifndef SKIFF_MIDDLEWARE_H
#define SKIFF_MIDDLEWARE_H

#include "skiff/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct skiff_mw_call_t skiff_mw_call_t; /* opaque, owned by the host */

/* Edits on the call being inspected. Valid until the hook's completion fires. */
typedef struct skiff_mw_edit_api_t {
  uint32_t struct_size;
  /* Replaces every value of a header (case-insensitive name) with one value. */
  void (*set_header)(skiff_mw_call_t* call, skiff_str_t name, skiff_str_t value);
  /* Appends a value. */
  void (*add_header)(skiff_mw_call_t* call, skiff_str_t name, skiff_str_t value);
  void (*remove_header)(skiff_mw_call_t* call, skiff_str_t name);
} skiff_mw_edit_api_t;

enum { SKIFF_MW_CONTINUE = 0, SKIFF_MW_REJECT = 1 };

/* A middleware's decision. Borrowed for the completion call. */
typedef struct skiff_mw_verdict_t {
  uint32_t struct_size;
  int32_t action;                /* SKIFF_MW_CONTINUE or SKIFF_MW_REJECT */
  int32_t http_status;           /* REJECT: the status returned to the caller, e.g. 401, 403, 429 */
  skiff_str_t error_code;        /* REJECT: Dapr-style errorCode, e.g. "ERR_RATE_LIMITED" */
  skiff_str_t message;           /* REJECT: human-readable reason */
  const skiff_header_t* headers; /* REJECT: extra response headers (e.g. Retry-After) */
  size_t header_count;
} skiff_mw_verdict_t;

typedef void (*skiff_mw_done_fn)(void* user_data, const skiff_mw_verdict_t* verdict);

typedef struct skiff_middleware_vtable_v1_t {
  uint32_t struct_size;
  skiff_status_t (*create)(const skiff_host_api_t* host, const skiff_config_t* config,
                           void** instance, skiff_errbuf_t err);
  void (*destroy)(void* instance);
  /* Optional. Caller side, before the target is resolved. */
  void (*on_outbound)(void* instance, const skiff_call_head_t* head, skiff_mw_call_t* call,
                      const skiff_mw_edit_api_t* edit, skiff_mw_done_fn done, void* user_data);
  /* Optional. Callee side, before the app is called; head->peer_identity is set there. */
  void (*on_inbound)(void* instance, const skiff_call_head_t* head, skiff_mw_call_t* call,
                     const skiff_mw_edit_api_t* edit, skiff_mw_done_fn done, void* user_data);
  /* Optional. The response head on its way back (either side); headers may be edited, a REJECT
   * replaces the response. */
  void (*on_response)(void* instance, const skiff_call_head_t* request,
                      const skiff_response_head_t* response, skiff_mw_call_t* call,
                      const skiff_mw_edit_api_t* edit, skiff_mw_done_fn done, void* user_data);
} skiff_middleware_vtable_v1_t;

#ifdef __cplusplus
}
#endif
#endif /* SKIFF_MIDDLEWARE_H */
