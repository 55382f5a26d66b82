/* skiff plugin ABI v1: transport components (kind SKIFF_KIND_TRANSPORT).
 *
 * A transport carries one invocation between two sidecars: the caller's side opens a client call
 * to a peer address; the callee's side listens and hands each incoming call to the host.
 *
 * A call is a stream: a head (skiff_call_head_t), request body chunks, then a response head
 * (skiff_response_head_t) and response body chunks. Bodies have backpressure in both directions:
 * at most one write and one read are outstanding per call; the next write is issued only after the
 * previous one completed, and the transport delivers a chunk only when a read asks for it.
 *
 * Threading contract:
 * - create(), destroy(), listen() and shutdown() are called from the host's control thread;
 *   set_credentials() from the control thread or the host's identity thread, never two at once.
 *   It is called before listen() and again on every rotation; calls already running keep the
 *   credentials they started with.
 * - Call functions (call_* and server_*) may be called from any host thread; calls on different
 *   call objects run concurrently; on one call object the host never runs two reads or two writes
 *   at once, but a read and a write may overlap.
 * - Completions fire exactly once each, from any thread (typically the transport's own), possibly
 *   before the function returns. They must not block; the host copies and posts.
 * - on_call() (the inbound handler) is called from transport threads; the host copies the head.
 * - A call object stays valid until the host releases it (call_release / server_release), which
 *   the host does only after every completion it asked for has fired. destroy() comes only after
 *   every call object of that instance was released and shutdown() completed. */
#ifndef SKIFF_TRANSPORT_H
#define SKIFF_TRANSPORT_H

#include "skiff/resolver.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The head of an invocation. All views borrowed for the call that passes it. */
typedef struct skiff_call_head_t {
  uint32_t struct_size;
  skiff_str_t target_app_id;
  skiff_str_t target_namespace;
  skiff_str_t caller_app_id;
  skiff_str_t caller_namespace;
  skiff_str_t method; /* the method path exactly as the caller sent it (still percent-encoded) */
  skiff_str_t verb;   /* HTTP verb in upper case; for gRPC calls "POST" */
  skiff_str_t query;  /* raw query string without '?', possibly empty */
  const skiff_header_t* headers;
  size_t header_count;
  uint64_t timeout_ms; /* 0: no deadline */
  /* Inbound calls only: the verified identity of the calling sidecar (a SPIFFE ID from its mTLS
   * certificate), or empty when the connection is not authenticated. Ignored on outbound calls. */
  skiff_str_t peer_identity;
} skiff_call_head_t;

typedef struct skiff_response_head_t {
  uint32_t struct_size;
  int32_t http_status;
  const skiff_header_t* headers;
  size_t header_count;
} skiff_response_head_t;

/* TLS credentials in PEM. Views borrowed for the call; the transport copies them. Hosts before
 * ABI 1.3 pass the trust domain only (the PEM fields empty): TLS runs through io_start_tls. */
typedef struct skiff_tls_credentials_t {
  uint32_t struct_size;
  skiff_str_t cert_chain_pem;   /* this sidecar's certificate chain, leaf first */
  skiff_str_t private_key_pem;  /* the leaf's private key */
  skiff_str_t trust_bundle_pem; /* CAs that sign peers' certificates */
  skiff_str_t trust_domain;     /* SPIFFE trust domain peers must belong to */
} skiff_tls_credentials_t;

/* Completion of a body read. On SKIFF_OK, `chunk` (borrowed for the call, possibly empty) is the
 * next piece of the body and end_of_body is 1 when no more follows. On error the stream is over. */
typedef void (*skiff_read_done_fn)(void* user_data, skiff_status_t status, skiff_bytes_t chunk,
                                   int32_t end_of_body, skiff_str_t message);

/* Completion of call_read_head. `head` is borrowed for the call; NULL unless status is SKIFF_OK. A
 * failure here is the transport's or the remote sidecar's: status says which kind
 * (SKIFF_ERR_UNAVAILABLE: the peer could not be reached and nothing was delivered). */
typedef void (*skiff_head_done_fn)(void* user_data, skiff_status_t status,
                                   const skiff_response_head_t* head, skiff_str_t message);

typedef struct skiff_client_call_t skiff_client_call_t; /* opaque, owned by the transport */
typedef struct skiff_server_call_t skiff_server_call_t; /* opaque, owned by the transport */

/* The host's handler for incoming calls, passed to listen(). Valid until shutdown() completes. */
typedef struct skiff_inbound_handler_t {
  uint32_t struct_size;
  void* host_data;
  /* A new call arrived. The host reads its body with server_read and answers with
   * server_write_head + server_write, or server_fail; then releases it. */
  void (*on_call)(void* host_data, skiff_server_call_t* call, const skiff_call_head_t* head);
} skiff_inbound_handler_t;

typedef struct skiff_transport_vtable_v1_t {
  uint32_t struct_size; /* sizeof(skiff_transport_vtable_v1_t) as the plugin was built */

  skiff_status_t (*create)(const skiff_host_api_t* host, const skiff_config_t* config,
                           void** instance, skiff_errbuf_t err);
  void (*destroy)(void* instance);

  /* Installs (or rotates) TLS credentials for both listening and calling. NULL: plaintext.
   * SKIFF_ERR_UNIMPLEMENTED when the transport has no TLS. A failed rotation leaves the previous
   * credentials in use. */
  skiff_status_t (*set_credentials)(void* instance, const skiff_tls_credentials_t* credentials,
                                    skiff_errbuf_t err);

  /* Starts serving on address:port (port 0 picks a free one, written to *bound_port). */
  skiff_status_t (*listen)(void* instance, skiff_str_t address, uint16_t port,
                           const skiff_inbound_handler_t* handler, uint16_t* bound_port,
                           skiff_errbuf_t err);
  /* Stops accepting, lets running calls finish (or cancels them after the transport's grace
   * period), then completes. */
  void (*shutdown)(void* instance, skiff_done_fn done, void* user_data);

  /* Caller side. Opens a call to the sidecar at `address` ("host:port"). The head is sent no later
   * than the first write. On failure returns an error and *call stays unset. */
  skiff_status_t (*call_start)(void* instance, skiff_str_t address, const skiff_call_head_t* head,
                               skiff_client_call_t** call, skiff_errbuf_t err);
  /* Writes the next request body chunk (borrowed until done fires); end_of_body 1 on the last. */
  void (*call_write)(skiff_client_call_t* call, skiff_bytes_t chunk, int32_t end_of_body,
                     skiff_done_fn done, void* user_data);
  /* Waits for the response head. */
  void (*call_read_head)(skiff_client_call_t* call, skiff_head_done_fn done, void* user_data);
  /* Reads the next response body chunk. Only after the head arrived. */
  void (*call_read)(skiff_client_call_t* call, skiff_read_done_fn done, void* user_data);
  /* Aborts the call: pending completions fire soon with SKIFF_ERR_CANCELLED. */
  void (*call_cancel)(skiff_client_call_t* call);
  /* The host is done with the call; the transport frees it once its own work ends. */
  void (*call_release)(skiff_client_call_t* call);

  /* Callee side. Reads the next request body chunk. */
  void (*server_read)(skiff_server_call_t* call, skiff_read_done_fn done, void* user_data);
  /* Sets the response head; it is sent with the first server_write at the latest. */
  void (*server_write_head)(skiff_server_call_t* call, const skiff_response_head_t* head,
                            skiff_done_fn done, void* user_data);
  /* Writes the next response body chunk; end_of_body 1 on the last, which ends the call. */
  void (*server_write)(skiff_server_call_t* call, skiff_bytes_t chunk, int32_t end_of_body,
                       skiff_done_fn done, void* user_data);
  /* Ends the call without a response: the callee sidecar could not produce one (the app is
   * unreachable, a middleware rejected it, ...). The caller sees status and message. */
  void (*server_fail)(skiff_server_call_t* call, skiff_status_t status, skiff_str_t message,
                      skiff_done_fn done, void* user_data);
  void (*server_release)(skiff_server_call_t* call);
} skiff_transport_vtable_v1_t;

#ifdef __cplusplus
}
#endif
#endif /* SKIFF_TRANSPORT_H */
