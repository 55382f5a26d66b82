/* skiff plugin ABI v1: the host service table, the only way a plugin reaches the host. */
#ifndef SKIFF_HOST_H
#define SKIFF_HOST_H

#include "skiff/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  SKIFF_LOG_TRACE = 0,
  SKIFF_LOG_DEBUG = 1,
  SKIFF_LOG_INFO = 2,
  SKIFF_LOG_WARN = 3,
  SKIFF_LOG_ERROR = 4
};

/* Kinds of configuration values. */
enum {
  SKIFF_CONFIG_NONE = 0, /* the path does not exist */
  SKIFF_CONFIG_STRING = 1,
  SKIFF_CONFIG_INT = 2,
  SKIFF_CONFIG_FLOAT = 3,
  SKIFF_CONFIG_BOOL = 4,
  SKIFF_CONFIG_ARRAY = 5,
  SKIFF_CONFIG_TABLE = 6,
  SKIFF_CONFIG_OTHER = 7 /* dates and times */
};

/* A component's own configuration table (the TOML table `[<kind>.config]`). Opaque and owned by
 * the host; valid from create() until destroy() returns. Read it only from create(): copy what
 * you keep. */
typedef struct skiff_config_t skiff_config_t;

/* A task the host runs on one of its event-loop threads. It must not block. */
typedef void (*skiff_task_fn)(void* user_data);

typedef uint64_t skiff_timer_id_t;

/* ABI 1.1: a plugin's socket served by the host's event loop (see io_open below). */
typedef struct skiff_io_t skiff_io_t;
enum { SKIFF_IO_READABLE = 1, SKIFF_IO_WRITABLE = 2 };
enum { SKIFF_IO_MAX_PIECES = 16 };
enum { SKIFF_TLS_CLIENT = 1, SKIFF_TLS_SERVER = 2 };
/* Completion of io_wait, io_read and io_write. On SKIFF_OK, `size` bytes were read or written (0
 * for io_wait); a read of 0 bytes with SKIFF_OK is the peer's orderly end of stream. After
 * io_cancel or io_close the status is SKIFF_ERR_CANCELLED; other failures are
 * SKIFF_ERR_UNAVAILABLE with the system's reason in `message` (borrowed for the call). */
typedef void (*skiff_io_done_fn)(void* user_data, skiff_status_t status, size_t size,
                                 skiff_str_t message);

/* ABI 1.4: receives one snapshot of the host's metrics (skiff_metric_t is in skiff/observer.h):
 * `count` pointers, everything borrowed for the call. */
struct skiff_metric_t;
typedef void (*skiff_metrics_fn)(void* user_data, const struct skiff_metric_t* const* metrics,
                                 size_t count);

/* Paths: dotted keys with array indices, relative to the component's table, e.g. "apps.cart[0]".
 * An empty path means the table itself. All functions below are thread-safe. */
typedef struct skiff_host_api_t {
  uint32_t struct_size;    /* sizeof(skiff_host_api_t) as the host was built */
  skiff_abi_version_t abi; /* the host's ABI version */
  void* host;              /* opaque; pass it back as the first argument of the calls below */

  /* Writes one log line through the host's logger (plain or JSON, as configured). */
  void (*log)(void* host, int32_t level, skiff_str_t component, skiff_str_t message);

  /* Runs fn(user_data) soon on a host event-loop thread. Callable from any thread, including
   * the plugin's own; fn runs exactly once unless the host is shutting down (then never). */
  void (*post)(void* host, skiff_task_fn fn, void* user_data);

  /* Runs fn(user_data) once on a host event-loop thread after delay_ms. Returns a non-zero id. */
  skiff_timer_id_t (*timer_start)(void* host, uint64_t delay_ms, skiff_task_fn fn, void* user_data);
  /* Returns 1 when the timer was stopped before fn started (fn will never run), 0 when fn has run
   * or is running (the caller must then wait for it before freeing user_data). */
  int32_t (*timer_cancel)(void* host, skiff_timer_id_t id);

  /* Configuration accessors. *out strings are borrowed from the host and stay valid as long as
   * the skiff_config_t. They return SKIFF_ERR_NOT_FOUND for a missing path and
   * SKIFF_ERR_INVALID_ARGUMENT for a value of another type. */
  int32_t (*config_type)(const skiff_config_t* config, skiff_str_t path);
  skiff_status_t (*config_get_string)(const skiff_config_t* config, skiff_str_t path,
                                      skiff_str_t* out);
  skiff_status_t (*config_get_int)(const skiff_config_t* config, skiff_str_t path, int64_t* out);
  skiff_status_t (*config_get_float)(const skiff_config_t* config, skiff_str_t path, double* out);
  skiff_status_t (*config_get_bool)(const skiff_config_t* config, skiff_str_t path, int32_t* out);
  /* Number of elements of an array, or of keys of a table; 0 for anything else. */
  size_t (*config_size)(const skiff_config_t* config, skiff_str_t path);
  /* The index-th key of the table at path, in file order. */
  skiff_status_t (*config_key_at)(const skiff_config_t* config, skiff_str_t path, size_t index,
                                  skiff_str_t* out);
  /* Writes "<file>:<line>:<column>: <full.key.path>" for error messages (NUL-terminated, truncated
   * to cap) and returns the length it needed. */
  size_t (*config_describe)(const skiff_config_t* config, skiff_str_t path, char* buf, size_t cap);
  /* Parses a duration ("250ms", "5s", "2m", "1h", or an integer of milliseconds) at path. */
  skiff_status_t (*config_get_duration_ms)(const skiff_config_t* config, skiff_str_t path,
                                           uint64_t* out);

  /* ---- ABI 1.1: non-blocking socket I/O on the host's event loop ----
   * A plugin that talks over its own sockets (a transport) hands them to the host instead of
   * running an event loop of its own: its work then runs on the host's threads, with no thread
   * hop between the socket and the host. Check with SKIFF_HAS(host, skiff_host_api_t, io_open);
   * a 1.0 host has none of these.
   *
   * Contract: completions always run on a host event-loop thread and never inside the starting
   * call (they may run on another loop thread before that call has returned). At most one io_read
   * or readable io_wait, and at most one io_write or writable io_wait, are outstanding per socket;
   * a read and a write may be outstanding together and may be started from different threads. Every
   * started operation completes exactly once, also after io_cancel and io_close. */

  /* Takes a connected or listening non-blocking stream socket (TCP or Unix). From now on the
   * host owns fd and closes it in io_close. Returns NULL, with the reason in err, on failure; the
   * caller then still owns fd. */
  skiff_io_t* (*io_open)(void* host, int fd, skiff_errbuf_t err);
  /* Completes when the socket is ready: SKIFF_IO_READABLE (e.g. to accept) or SKIFF_IO_WRITABLE
   * (e.g. a non-blocking connect finished; read SO_ERROR to learn how). */
  void (*io_wait)(skiff_io_t* io, int32_t readiness, skiff_io_done_fn done, void* user_data);
  /* Reads at least one byte into buf (cap > 0, else SKIFF_ERR_INVALID_ARGUMENT), borrowed
   * until done fires. */
  void (*io_read)(skiff_io_t* io, void* buf, size_t cap, skiff_io_done_fn done, void* user_data);
  /* Writes at least one byte of `pieces` in order, gathered into one system call where possible;
   * count is at most SKIFF_IO_MAX_PIECES. The pieces array is borrowed for the call, the bytes
   * until done fires. Writes never raise SIGPIPE. */
  void (*io_write)(skiff_io_t* io, const skiff_bytes_t* pieces, size_t count, skiff_io_done_fn done,
                   void* user_data);
  /* Operations in flight complete soon with SKIFF_ERR_CANCELLED; the socket stays open and
   * operations started later run normally (shut the socket down first to make a stop stick). */
  void (*io_cancel)(skiff_io_t* io);
  /* Closes the socket and frees io. Outstanding operations still complete, with
   * SKIFF_ERR_CANCELLED; io must not be used again. */
  void (*io_close)(skiff_io_t* io);

  /* ---- ABI 1.2: mutual TLS with this sidecar's workload identity ----
   * The host owns the certificates, their rotation and the checks of the peer's X.509-SVID; a
   * transport only says where TLS starts. It is on when the host called the transport's
   * set_credentials with credentials (security.mtls, on by default). */

  /* Runs the TLS 1.3 handshake on a connected socket, as SKIFF_TLS_CLIENT or SKIFF_TLS_SERVER,
   * with no other operation outstanding. A client names the app it means to reach (borrowed for
   * the call): the peer must present that app's SPIFFE ID, else the handshake fails with
   * SKIFF_ERR_UNAVAILABLE (another app answers at this address; try another instance). A server
   * accepts any peer of the trust domain. Other failures: SKIFF_ERR_UNAUTHENTICATED, with why.
   * After success io_read and io_write carry plaintext through TLS. Completes like io_read; size
   * is 0. With mTLS off it completes with SKIFF_OK and the socket stays plaintext. A TLS write
   * cancelled halfway leaves part of a record unsent: later reads and writes on that socket fail
   * with SKIFF_ERR_UNAVAILABLE, so close it. */
  void (*io_start_tls)(skiff_io_t* io, int32_t role, skiff_str_t peer_app_id,
                       skiff_str_t peer_namespace, skiff_io_done_fn done, void* user_data);
  /* The peer's verified SPIFFE ID once io_start_tls succeeded, else empty; borrowed until
   * io_close. */
  skiff_str_t (*io_peer_identity)(skiff_io_t* io);

  /* ---- ABI 1.3: mutual TLS in a transport's own TLS stack ----
   * For a transport that cannot serve its sockets through the host (gRPC owns its sockets): the
   * host hands it the PEM credentials through set_credentials, again on every rotation, and the
   * transport's TLS stack verifies a peer's chain against the trust bundle, requires a client
   * certificate on its server side and offers TLS 1.3. What is left is this call. */

  /* Checks a peer's leaf certificate (PEM, borrowed for the call), whose chain the transport
   * verified, as io_start_tls does: an X.509-SVID of this sidecar's trust domain and, when
   * peer_app_id is not empty, that app's in peer_namespace. SKIFF_OK writes the peer's SPIFFE ID
   * into `out`; else out holds why: SKIFF_ERR_UNAVAILABLE when another app answered (try another
   * instance), SKIFF_ERR_UNAUTHENTICATED otherwise, SKIFF_ERR_FAILED_PRECONDITION with mTLS off.
   * Thread-safe; it does not block. */
  skiff_status_t (*tls_check_peer)(void* host, skiff_str_t leaf_pem, skiff_str_t peer_app_id,
                                   skiff_str_t peer_namespace, skiff_errbuf_t out);

  /* ---- ABI 1.4: metrics pulled by an observer ----
   * An exporter that is asked for metrics (a Prometheus scrape) reads the current values when it
   * is asked rather than waiting for the next on_metrics push. */

  /* Calls fn(user_data, metrics, count) once, before returning, with a consistent-enough snapshot
   * of every counter, gauge and histogram the host keeps (counts are read without stopping the
   * calls that update them). Callable from any thread, typically the observer's own worker; not
   * from inside fn. It takes a lock shared with series creation only, never one a call holds: it
   * does not slow calls down, but it walks every series, so call it per scrape, not per call. */
  void (*collect_metrics)(void* host, skiff_metrics_fn fn, void* user_data);
} skiff_host_api_t;

#ifdef __cplusplus
}
#endif
#endif /* SKIFF_HOST_H */
