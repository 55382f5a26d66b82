/* resolver-static: an example third-party resolver, written in C against the skiff SDK only.
 * It answers from a fixed table in its configuration:
 *
 *   [resolver]
 *   type = "static"
 *   [resolver.config.apps]
 *   cart = ["127.0.0.1:50012", "127.0.0.1:50013"]
 *
 * Namespaces are ignored: an app id maps to the same addresses in every namespace. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skiff/skiff.h"

typedef struct app_entry {
  char* app_id;
  skiff_str_t* addresses; /* each ptr owned (malloc) */
  size_t count;
  atomic_size_t next; /* round-robin position */
} app_entry;

typedef struct static_resolver {
  const skiff_host_api_t* host;
  app_entry* apps;
  size_t app_count;
} static_resolver;

static char* copy_str(skiff_str_t s) {
  char* p = malloc(s.len + 1);
  if (p) {
    memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
  }
  return p;
}

static void free_resolver(static_resolver* r) {
  for (size_t i = 0; i < r->app_count; ++i) {
    for (size_t j = 0; j < r->apps[i].count; ++j) free((void*)r->apps[i].addresses[j].ptr);
    free(r->apps[i].addresses);
    free(r->apps[i].app_id);
  }
  free(r->apps);
  free(r);
}

/* Writes "<file>:<line>:<col>: <key>: <what>" into err. */
static skiff_status_t config_error(const skiff_host_api_t* host, const skiff_config_t* config,
                                   const char* path, const char* what, skiff_errbuf_t err) {
  char where[384];
  char message[512];
  host->config_describe(config, skiff_str_from_cstr(path), where, sizeof where);
  snprintf(message, sizeof message, "%s: %s", where, what);
  skiff_errbuf_set(err, message);
  return SKIFF_ERR_INVALID_ARGUMENT;
}

static int valid_address(skiff_str_t s) {
  const char* colon = memchr(s.ptr, ':', s.len);
  if (colon == NULL || colon == s.ptr || (size_t)(colon - s.ptr) + 1 >= s.len) return 0;
  for (const char* p = colon + 1; p < s.ptr + s.len; ++p)
    if (*p < '0' || *p > '9') return 0;
  return 1;
}

static skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config,
                             void** instance, skiff_errbuf_t err) {
  /* Only one key is known; anything else is a typo the user should hear about. */
  size_t top = host->config_size(config, skiff_str_from_cstr(""));
  for (size_t i = 0; i < top; ++i) {
    skiff_str_t key;
    if (host->config_key_at(config, skiff_str_from_cstr(""), i, &key) == SKIFF_OK &&
        !(key.len == 4 && memcmp(key.ptr, "apps", 4) == 0)) {
      char path[128];
      snprintf(path, sizeof path, "%.*s", (int)key.len, key.ptr);
      return config_error(host, config, path, "unknown key", err);
    }
  }
  if (host->config_type(config, skiff_str_from_cstr("apps")) != SKIFF_CONFIG_TABLE)
    return config_error(host, config, "apps", "expected a table of app id = [\"host:port\", ...]",
                        err);

  static_resolver* r = calloc(1, sizeof *r);
  if (r == NULL) return SKIFF_ERR_RESOURCE_EXHAUSTED;
  r->host = host;
  size_t n = host->config_size(config, skiff_str_from_cstr("apps"));
  r->apps = calloc(n ? n : 1, sizeof *r->apps);
  if (r->apps == NULL) {
    free(r);
    return SKIFF_ERR_RESOURCE_EXHAUSTED;
  }
  for (size_t i = 0; i < n; ++i) {
    skiff_str_t app;
    host->config_key_at(config, skiff_str_from_cstr("apps"), i, &app);
    app_entry* e = &r->apps[r->app_count++];
    e->app_id = copy_str(app);
    atomic_init(&e->next, 0);
    char path[256];
    snprintf(path, sizeof path, "apps.%.*s", (int)app.len, app.ptr);
    size_t count = host->config_size(config, skiff_str_from_cstr(path));
    if (host->config_type(config, skiff_str_from_cstr(path)) != SKIFF_CONFIG_ARRAY || count == 0) {
      free_resolver(r);
      return config_error(host, config, path, "expected a non-empty array of \"host:port\" strings",
                          err);
    }
    e->addresses = calloc(count, sizeof *e->addresses);
    for (size_t j = 0; j < count; ++j) {
      char item[300];
      skiff_str_t value;
      snprintf(item, sizeof item, "%s[%zu]", path, j);
      if (host->config_get_string(config, skiff_str_from_cstr(item), &value) != SKIFF_OK ||
          !valid_address(value)) {
        free_resolver(r);
        return config_error(host, config, item, "expected a \"host:port\" string", err);
      }
      e->addresses[e->count].ptr = copy_str(value);
      e->addresses[e->count].len = value.len;
      e->count++;
    }
  }
  *instance = r;
  return SKIFF_OK;
}

static void destroy(void* instance) {
  free_resolver(instance);
}

/* A static table has nothing to register: say so and succeed. */
static void register_self(void* instance, const skiff_registration_t* self, skiff_done_fn done,
                          void* ud) {
  static_resolver* r = instance;
  char message[256];
  snprintf(message, sizeof message, "static table: %.*s is not registered anywhere",
           (int)self->app_id.len, self->app_id.ptr);
  r->host->log(r->host->host, SKIFF_LOG_INFO, skiff_str_from_cstr("resolver-static"),
               skiff_str_from_cstr(message));
  done(ud, SKIFF_OK, skiff_str_from_cstr(""));
}

static void deregister_self(void* instance, skiff_done_fn done, void* ud) {
  (void)instance;
  done(ud, SKIFF_OK, skiff_str_from_cstr(""));
}

/* Answers inline: nothing here can block. */
static void resolve(void* instance, const skiff_resolve_request_t* req, skiff_resolve_done_fn done,
                    void* ud, uint64_t* op_id) {
  static_resolver* r = instance;
  *op_id = 0;
  for (size_t i = 0; i < r->app_count; ++i) {
    app_entry* e = &r->apps[i];
    if (strlen(e->app_id) != req->app_id.len ||
        memcmp(e->app_id, req->app_id.ptr, req->app_id.len) != 0)
      continue;
    skiff_str_t rotated[64];
    size_t count = e->count < 64 ? e->count : 64;
    size_t start = atomic_fetch_add(&e->next, 1) % count;
    for (size_t j = 0; j < count; ++j) rotated[j] = e->addresses[(start + j) % count];
    done(ud, SKIFF_OK, rotated, count, skiff_str_from_cstr(""));
    return;
  }
  done(ud, SKIFF_ERR_NOT_FOUND, NULL, 0, skiff_str_from_cstr("not in the static table"));
}

static const skiff_resolver_vtable_v1_t vtable = {
    sizeof(skiff_resolver_vtable_v1_t),
    create,
    destroy,
    register_self,
    deregister_self,
    resolve,
    NULL /* cancel: resolve never waits */,
    NULL /* report_unavailable: the table is fixed */};

/* `skiffd --check-config` (ABI 1.2): check a configuration without starting anything. This
 * resolver's create() only builds its table in memory, so checking is creating and freeing. A
 * resolver whose create() starts a thread or opens a connection parses without doing so here. */
static skiff_status_t check_config(const skiff_host_api_t* host, const skiff_config_t* config,
                                   skiff_errbuf_t err) {
  void* instance = NULL;
  skiff_status_t status = create(host, config, &instance, err);
  if (status == SKIFF_OK) destroy(instance);
  return status;
}

static const skiff_component_t component = {sizeof(skiff_component_t), SKIFF_KIND_RESOLVER,
                                            "static", &vtable, check_config};
static const skiff_component_t* const components[] = {&component};
static const skiff_plugin_info_t info = {sizeof(skiff_plugin_info_t), "resolver-static", "1.0.0",
                                         components, 1};

SKIFF_PLUGIN_DEFINE_ABI_VERSION();

skiff_status_t skiff_plugin_entry(const skiff_host_api_t* host, const skiff_plugin_info_t** out,
                                  skiff_errbuf_t err) {
  (void)err;
  if (host->abi.major != SKIFF_ABI_MAJOR) return SKIFF_ERR_FAILED_PRECONDITION;
  *out = &info;
  return SKIFF_OK;
}
