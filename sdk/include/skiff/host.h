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
} skiff_host_api_t;

#ifdef __cplusplus
}
#endif
#endif /* SKIFF_HOST_H */
