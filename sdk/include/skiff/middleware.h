/* skiff plugin ABI v1: middleware components (kind SKIFF_KIND_MIDDLEWARE).
 *
 * A middleware sees each invocation's head on the caller's sidecar (outbound, before resolution)
 * and on the callee's sidecar (inbound, before the app is called), and may edit headers or reject
 * the call. The members of the tables are there since 1.0 unless marked; since 1.5 a hook can
 * tell its side and keep per-call state (skiff_mw_edit_api_t).
 *
 * What the host calls (skiffd 0.1, ABI 1.5), for each [[middleware]] entry, in their order:
 * - on_outbound on the caller's sidecar, for every call an app makes (HTTP invoke, gRPC
 *   InvokeService, gRPC proxy mode), after the caller's own headers (dapr-caller-app-id,
 *   traceparent) are set and before the target is resolved. A REJECT answers the app with the
 *   verdict; nothing is sent.
 * - on_inbound on the callee's sidecar, after the caller's identity is taken from its
 *   certificate and access control allowed the call, before the app is called.
 *   head->peer_identity is the caller's SPIFFE ID. A REJECT answers the caller with the verdict;
 *   the app sees nothing.
 * - on_response on the caller's sidecar, when the target's response head arrived and before the
 *   app sees it, in the reverse order (the first middleware sees the answer last). Not for gRPC
 *   proxy-mode calls, whose head comes with the stream. A REJECT replaces the answer. The
 *   callee's sidecar does not call on_response in this version.
 * Calls to [[http_endpoints]] pass no middleware.
 *
 * Threading contract:
 * - create()/destroy() on the host's control thread.
 * - on_outbound/on_inbound/on_response run on host event-loop threads, concurrently for different
 *   calls: an instance must be thread-safe. They must not block; slow work (a token check against a
 *   server) goes to the plugin's worker and completes later.
 * - Each hook calls its completion exactly once, from any thread, possibly inline. The head, the
 *   response and the edit handle stay valid until the completion fires, and not after. Edits take
 *   effect when the completion fires, in the order they were made: the head a hook reads does not
 *   change under it.
 * - destroy() comes only after every completion fired and every state was released. */
#ifndef SKIFF_MIDDLEWARE_H
#define SKIFF_MIDDLEWARE_H

#include "skiff/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct skiff_mw_call_t skiff_mw_call_t; /* opaque, owned by the host */

enum { SKIFF_MW_OUTBOUND = 1, SKIFF_MW_INBOUND = 2 };

/* Edits on the call being inspected: the request's headers in on_outbound/on_inbound, the
 * response's in on_response. Valid until the hook's completion fires. */
typedef struct skiff_mw_edit_api_t {
  uint32_t struct_size;
  /* Since 1.0. Replaces every value of a header (case-insensitive name) with one value. */
  void (*set_header)(skiff_mw_call_t* call, skiff_str_t name, skiff_str_t value);
  /* Since 1.0. Appends a value. */
  void (*add_header)(skiff_mw_call_t* call, skiff_str_t name, skiff_str_t value);
  /* Since 1.0. Removes every value (case-insensitive name). */
  void (*remove_header)(skiff_mw_call_t* call, skiff_str_t name);

  /* ---- ABI 1.5: the hook's side and per-call state ----
   * Check with SKIFF_HAS(edit, skiff_mw_edit_api_t, set_state). */

  /* SKIFF_MW_OUTBOUND (the caller's sidecar: on_outbound, on_response) or SKIFF_MW_INBOUND (the
   * callee's: on_inbound). */
  int32_t (*side)(skiff_mw_call_t* call);
  /* This instance's state for this call on this side, so that on_response finds what its
   * on_outbound set without a map of its own. Setting it again releases the previous state.
   * `release` (may be NULL) is called exactly once per state, on a host thread, when the call is
   * done on this side: after on_response of a call that got one, else when the call failed or was
   * rejected (by this middleware or another). */
  void (*set_state)(skiff_mw_call_t* call, void* state, void (*release)(void* state));
  /* The state set for this call on this side, or NULL. */
  void* (*state)(skiff_mw_call_t* call);
} skiff_mw_edit_api_t;

enum { SKIFF_MW_CONTINUE = 0, SKIFF_MW_REJECT = 1 };

/* Since 1.0. A middleware's decision. Borrowed for the completion call. A rejected call's app
 * gets http_status with Dapr's error body {"errorCode": error_code, "message": message} (an
 * empty error_code becomes "ERR_MIDDLEWARE_REJECTED") and the extra headers. A gRPC caller gets it
 * as it gets any HTTP error answer: the status Dapr maps http_status to, with dapr-http-status
 * and the body in the error details; in gRPC proxy mode, that status with the message. */
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
  /* Since 1.0, optional. Caller side, before the target is resolved. */
  void (*on_outbound)(void* instance, const skiff_call_head_t* head, skiff_mw_call_t* call,
                      const skiff_mw_edit_api_t* edit, skiff_mw_done_fn done, void* user_data);
  /* Since 1.0, optional. Callee side, before the app is called; head->peer_identity is set
   * there. */
  void (*on_inbound)(void* instance, const skiff_call_head_t* head, skiff_mw_call_t* call,
                     const skiff_mw_edit_api_t* edit, skiff_mw_done_fn done, void* user_data);
  /* Since 1.0, optional. The response head on its way back to the caller's app (see above for
   * where it runs); its headers may be edited, a REJECT replaces the response. */
  void (*on_response)(void* instance, const skiff_call_head_t* request,
                      const skiff_response_head_t* response, skiff_mw_call_t* call,
                      const skiff_mw_edit_api_t* edit, skiff_mw_done_fn done, void* user_data);
} skiff_middleware_vtable_v1_t;

#ifdef __cplusplus
}
#endif
#endif /* SKIFF_MIDDLEWARE_H */
