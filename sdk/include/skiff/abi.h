/* skiff plugin ABI v1: versions, status codes, borrowed views and the plugin descriptor.
 * This is the only family of headers a third-party plugin includes (through skiff.h). */
#ifndef SKIFF_ABI_H
#define SKIFF_ABI_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version a plugin was built against. A host loads a plugin whose major equals its own,
 * whatever the minor: what a minor adds is optional and detected with SKIFF_HAS. */
#define SKIFF_ABI_MAJOR 1u
#define SKIFF_ABI_MINOR 5u

#if defined(_WIN32)
#define SKIFF_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define SKIFF_EXPORT __attribute__((visibility("default")))
#else
#define SKIFF_EXPORT
#endif

typedef struct skiff_abi_version_t {
  uint32_t major;
  uint32_t minor;
} skiff_abi_version_t;

/* Status codes. The numbers equal gRPC's status codes so that a transport can pass them through. */
typedef int32_t skiff_status_t;
enum {
  SKIFF_OK = 0,
  SKIFF_ERR_CANCELLED = 1,
  SKIFF_ERR_UNKNOWN = 2,
  SKIFF_ERR_INVALID_ARGUMENT = 3,
  SKIFF_ERR_DEADLINE_EXCEEDED = 4,
  SKIFF_ERR_NOT_FOUND = 5,
  SKIFF_ERR_ALREADY_EXISTS = 6,
  SKIFF_ERR_PERMISSION_DENIED = 7,
  SKIFF_ERR_RESOURCE_EXHAUSTED = 8,
  SKIFF_ERR_FAILED_PRECONDITION = 9,
  SKIFF_ERR_ABORTED = 10,
  SKIFF_ERR_OUT_OF_RANGE = 11,
  SKIFF_ERR_UNIMPLEMENTED = 12,
  SKIFF_ERR_INTERNAL = 13,
  SKIFF_ERR_UNAVAILABLE = 14,
  SKIFF_ERR_DATA_LOSS = 15,
  SKIFF_ERR_UNAUTHENTICATED = 16
};

/* A borrowed string: not NUL-terminated, valid only for the duration of the call that passes it
 * (or as long as the function that returns it says). The receiver copies what it keeps. */
typedef struct skiff_str_t {
  const char* ptr;
  size_t len;
} skiff_str_t;

/* A borrowed byte buffer, same lifetime rule as skiff_str_t. */
typedef struct skiff_bytes_t {
  const uint8_t* ptr;
  size_t len;
} skiff_bytes_t;

/* One header or attribute. A name may repeat (multi-valued headers keep their order). */
typedef struct skiff_header_t {
  skiff_str_t name;
  skiff_str_t value;
} skiff_header_t;

/* A caller-provided buffer for a human-readable error message. The callee writes at most cap-1
 * bytes plus a NUL with skiff_errbuf_set; ptr may be NULL (cap 0) when the caller wants none. */
typedef struct skiff_errbuf_t {
  char* ptr;
  size_t cap;
} skiff_errbuf_t;

static inline void skiff_errbuf_set(skiff_errbuf_t err, const char* message) {
  if (err.ptr == NULL || err.cap == 0) return;
  size_t n = message ? strlen(message) : 0;
  if (n >= err.cap) n = err.cap - 1;
  if (n) memcpy(err.ptr, message, n);
  err.ptr[n] = '\0';
}

static inline skiff_str_t skiff_str_from_cstr(const char* s) {
  skiff_str_t v;
  v.ptr = s;
  v.len = s ? strlen(s) : 0;
  return v;
}

/* True when `table` (a pointer to a struct of type `type` that starts with uint32_t struct_size)
 * is large enough to hold `member` and the member is set. Use it before every optional call:
 * a table built against an older minor simply ends before the member. */
#define SKIFF_HAS(table, type, member)                                                    \
  ((table) != NULL &&                                                                     \
   offsetof(type, member) + sizeof(((type*)0)->member) <= (size_t)(table)->struct_size && \
   (table)->member != NULL)

/* Component kinds. Each kind has its own vtable header. */
enum {
  SKIFF_KIND_RESOLVER = 1,
  SKIFF_KIND_TRANSPORT = 2,
  SKIFF_KIND_MIDDLEWARE = 3,
  SKIFF_KIND_OBSERVER = 4
};

struct skiff_host_api_t;
struct skiff_config_t;

/* One component provided by a plugin. All pointers are static: they must stay valid for as long
 * as the shared object is loaded (the host never unloads a plugin in v1). */
typedef struct skiff_component_t {
  uint32_t struct_size;  /* sizeof(skiff_component_t) as the plugin was built */
  uint32_t kind;         /* SKIFF_KIND_* */
  const char* type_name; /* NUL-terminated, e.g. "sqlite"; what a configuration names */
  const void* vtable;    /* the kind's vtable (skiff_resolver_vtable_v1_t, ...); never NULL */

  /* Optional (ABI 1.2). Validates the component's configuration table exactly as create() would,
   * without starting anything: no thread, no socket, no file written, no registration. It runs
   * on the control thread and may read files. `skiffd --check-config` calls it; for a component
   * without it, check mode runs create() and destroy() instead. On failure returns an error
   * status and writes why into err, naming the key (config_describe) as create() does. */
  skiff_status_t (*check_config)(const struct skiff_host_api_t* host,
                                 const struct skiff_config_t* config, skiff_errbuf_t err);
} skiff_component_t;

/* The plugin descriptor the entry function hands back. Static storage, owned by the plugin. */
typedef struct skiff_plugin_info_t {
  uint32_t struct_size; /* sizeof(skiff_plugin_info_t) as the plugin was built */
  const char* name;     /* NUL-terminated plugin name, e.g. "resolver-sqlite" */
  const char* version;  /* NUL-terminated plugin version, free form */
  const skiff_component_t* const* components; /* array of component_count pointers */
  size_t component_count;
} skiff_plugin_info_t;

/* The two symbols a plugin exports; everything else stays hidden (-fvisibility=hidden).
 *
 * skiff_plugin_abi_version: read by the loader before any plugin code runs.
 * skiff_plugin_entry: called once, on the host's control thread, right after loading. `host` stays
 *   valid until the process exits. On success it stores a pointer to the plugin's static descriptor
 *   in *info and returns SKIFF_OK; on failure it returns an error status and writes why into err.
 *   It must not block and must not start threads: components start work in their create(). */
SKIFF_EXPORT extern const skiff_abi_version_t skiff_plugin_abi_version;
SKIFF_EXPORT skiff_status_t skiff_plugin_entry(const struct skiff_host_api_t* host,
                                               const skiff_plugin_info_t** info,
                                               skiff_errbuf_t err);

/* Defines the version symbol; place it once in one source file of the plugin. */
#define SKIFF_PLUGIN_DEFINE_ABI_VERSION() \
  const skiff_abi_version_t skiff_plugin_abi_version = {SKIFF_ABI_MAJOR, SKIFF_ABI_MINOR}

#define SKIFF_ABI_VERSION_SYMBOL "skiff_plugin_abi_version"
#define SKIFF_ENTRY_SYMBOL "skiff_plugin_entry"

#ifdef __cplusplus
}
#endif
#endif /* SKIFF_ABI_H */
