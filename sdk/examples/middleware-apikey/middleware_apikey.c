/* middleware-apikey: an example third-party middleware, written in C against the skiff SDK only.
 *
 *   [[middleware]]
 *   type = "apikey"
 *   config = { key = "s3cret", targets = ["cart", "stock"] }
 *
 * - Outbound (the caller's sidecar): every call gets the header x-api-key (or `header`) with the
 *   key; when `targets` is given, a call to any other app is refused with 403 before it leaves.
 * - Inbound (the callee's sidecar): a call without the right key is refused with 401 before the
 *   app sees it; the key is removed from the head the app gets.
 * - Response (the caller's sidecar): the answer gets x-apikey-elapsed-us, the time since its
 *   on_outbound, read from the per-call state of ABI 1.5: no map, no lock.
 *
 * Every hook completes inline: nothing here waits. */
/* clock_gettime(CLOCK_MONOTONIC) is POSIX, not C11. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "skiff/skiff.h"

typedef struct apikey {
  char header[64];
  char key[256];
  size_t key_len;
  char** targets; /* NULL: any app */
  size_t target_count;
} apikey;

static int same(skiff_str_t a, const char* b, size_t len) {
  return a.len == len && memcmp(a.ptr, b, len) == 0;
}

static int same_nocase(skiff_str_t a, const char* b) {
  size_t len = strlen(b);
  if (a.len != len) return 0;
  for (size_t i = 0; i < len; ++i) {
    char x = a.ptr[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
    if (x != y) return 0;
  }
  return 1;
}

/* Compares all of the key whatever the first difference, so the time taken tells nothing. */
static int key_matches(const apikey* m, skiff_str_t value) {
  unsigned char diff = value.len == m->key_len ? 0 : 1;
  for (size_t i = 0; i < m->key_len; ++i)
    diff |= (unsigned char)(m->key[i] ^ (i < value.len ? value.ptr[i] : 0));
  return diff == 0;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void reject(skiff_mw_done_fn done, void* ud, int32_t status, const char* code,
                   const char* message, const skiff_header_t* headers, size_t header_count) {
  skiff_mw_verdict_t v = {
      sizeof(skiff_mw_verdict_t),   SKIFF_MW_REJECT, status,      skiff_str_from_cstr(code),
      skiff_str_from_cstr(message), headers,         header_count};
  done(ud, &v);
}

static void proceed(skiff_mw_done_fn done, void* ud) {
  skiff_mw_verdict_t v = {
      sizeof(skiff_mw_verdict_t), SKIFF_MW_CONTINUE, 0, {NULL, 0}, {NULL, 0}, NULL, 0};
  done(ud, &v);
}

static int has_state(const skiff_mw_edit_api_t* edit) {
  return SKIFF_HAS(edit, skiff_mw_edit_api_t, set_state);
}

static void on_outbound(void* instance, const skiff_call_head_t* head, skiff_mw_call_t* call,
                        const skiff_mw_edit_api_t* edit, skiff_mw_done_fn done, void* ud) {
  apikey* m = instance;
  if (m->targets) {
    int allowed = 0;
    for (size_t i = 0; i < m->target_count && !allowed; ++i)
      allowed = same(head->target_app_id, m->targets[i], strlen(m->targets[i]));
    if (!allowed) {
      reject(done, ud, 403, "ERR_TARGET_NOT_ALLOWED",
             "this app may not call that app (middleware apikey, targets)", NULL, 0);
      return;
    }
  }
  edit->set_header(call, skiff_str_from_cstr(m->header), (skiff_str_t){m->key, m->key_len});
  if (has_state(edit) && edit->side(call) == SKIFF_MW_OUTBOUND) {
    uint64_t* started = malloc(sizeof *started);
    if (started) {
      *started = now_ns();
      edit->set_state(call, started, free); /* freed by the host's release, whatever happens */
    }
  }
  proceed(done, ud);
}

static void on_inbound(void* instance, const skiff_call_head_t* head, skiff_mw_call_t* call,
                       const skiff_mw_edit_api_t* edit, skiff_mw_done_fn done, void* ud) {
  apikey* m = instance;
  int found = 0, good = 0;
  for (size_t i = 0; i < head->header_count; ++i) {
    if (!same_nocase(head->headers[i].name, m->header)) continue;
    found++;
    good = key_matches(m, head->headers[i].value);
  }
  if (found != 1 || !good) {
    static const skiff_header_t challenge[] = {{{"WWW-Authenticate", 16}, {"ApiKey", 6}}};
    reject(done, ud, 401, "ERR_API_KEY", "missing or wrong API key", challenge, 1);
    return;
  }
  /* The key is the sidecars' business: the app never sees it. */
  edit->remove_header(call, skiff_str_from_cstr(m->header));
  proceed(done, ud);
}

static void on_response(void* instance, const skiff_call_head_t* request,
                        const skiff_response_head_t* response, skiff_mw_call_t* call,
                        const skiff_mw_edit_api_t* edit, skiff_mw_done_fn done, void* ud) {
  (void)instance;
  (void)request;
  (void)response;
  const uint64_t* started = has_state(edit) ? edit->state(call) : NULL;
  if (started) {
    char elapsed[32];
    snprintf(elapsed, sizeof elapsed, "%llu", (unsigned long long)((now_ns() - *started) / 1000));
    edit->set_header(call, skiff_str_from_cstr("x-apikey-elapsed-us"),
                     skiff_str_from_cstr(elapsed));
  }
  proceed(done, ud);
}

/* ---- configuration ---- */

static skiff_status_t config_error(const skiff_host_api_t* host, const skiff_config_t* config,
                                   const char* path, const char* what, skiff_errbuf_t err) {
  char where[384];
  char message[512];
  host->config_describe(config, skiff_str_from_cstr(path), where, sizeof where);
  snprintf(message, sizeof message, "%s: %s", where, what);
  skiff_errbuf_set(err, message);
  return SKIFF_ERR_INVALID_ARGUMENT;
}

static void free_apikey(apikey* m) {
  for (size_t i = 0; i < m->target_count; ++i) free(m->targets[i]);
  free(m->targets);
  free(m);
}

/* A header name is a token; a key is printable, without spaces (it travels as a header value). */
static int valid_text(skiff_str_t s, int token) {
  if (s.len == 0) return 0;
  for (size_t i = 0; i < s.len; ++i) {
    unsigned char c = (unsigned char)s.ptr[i];
    if (c <= 0x20 || c >= 0x7f) return 0;
    if (token && strchr("\"(),/:;<=>?@[\\]{}", c)) return 0;
  }
  return 1;
}

static skiff_status_t read_config(const skiff_host_api_t* host, const skiff_config_t* config,
                                  apikey** out, skiff_errbuf_t err) {
  size_t top = host->config_size(config, skiff_str_from_cstr(""));
  for (size_t i = 0; i < top; ++i) {
    skiff_str_t k;
    if (host->config_key_at(config, skiff_str_from_cstr(""), i, &k) != SKIFF_OK) continue;
    if (same(k, "key", 3) || same(k, "header", 6) || same(k, "targets", 7)) continue;
    char path[128];
    snprintf(path, sizeof path, "%.*s", (int)k.len, k.ptr);
    return config_error(host, config, path, "unknown key", err);
  }
  apikey* m = calloc(1, sizeof *m);
  if (m == NULL) return SKIFF_ERR_RESOURCE_EXHAUSTED;
  skiff_str_t key, header = skiff_str_from_cstr("x-api-key");
  if (host->config_get_string(config, skiff_str_from_cstr("key"), &key) != SKIFF_OK ||
      !valid_text(key, 0) || key.len >= sizeof m->key) {
    free_apikey(m);
    return config_error(host, config, "key",
                        "expected the shared key: printable, no spaces, at most 255 bytes", err);
  }
  if (host->config_type(config, skiff_str_from_cstr("header")) != SKIFF_CONFIG_NONE &&
      (host->config_get_string(config, skiff_str_from_cstr("header"), &header) != SKIFF_OK ||
       !valid_text(header, 1) || header.len >= sizeof m->header)) {
    free_apikey(m);
    return config_error(host, config, "header", "expected a header name", err);
  }
  memcpy(m->key, key.ptr, key.len);
  m->key_len = key.len;
  memcpy(m->header, header.ptr, header.len);
  if (host->config_type(config, skiff_str_from_cstr("targets")) != SKIFF_CONFIG_NONE) {
    size_t n = host->config_size(config, skiff_str_from_cstr("targets"));
    if (host->config_type(config, skiff_str_from_cstr("targets")) != SKIFF_CONFIG_ARRAY) {
      free_apikey(m);
      return config_error(host, config, "targets", "expected an array of app ids", err);
    }
    m->targets = calloc(n ? n : 1, sizeof *m->targets);
    for (size_t i = 0; m->targets && i < n; ++i) {
      char item[32];
      skiff_str_t app;
      snprintf(item, sizeof item, "targets[%zu]", i);
      if (host->config_get_string(config, skiff_str_from_cstr(item), &app) != SKIFF_OK ||
          app.len == 0) {
        free_apikey(m);
        return config_error(host, config, item, "expected an app id", err);
      }
      m->targets[i] = malloc(app.len + 1);
      if (m->targets[i] == NULL) break;
      memcpy(m->targets[i], app.ptr, app.len);
      m->targets[i][app.len] = '\0';
      m->target_count++;
    }
    if (m->targets == NULL || m->target_count != n) {
      free_apikey(m);
      return SKIFF_ERR_RESOURCE_EXHAUSTED;
    }
  }
  *out = m;
  return SKIFF_OK;
}

static skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config,
                             void** instance, skiff_errbuf_t err) {
  apikey* m = NULL;
  skiff_status_t status = read_config(host, config, &m, err);
  if (status == SKIFF_OK) *instance = m;
  return status;
}

static void destroy(void* instance) {
  free_apikey(instance);
}

/* create() starts nothing, so checking is creating and freeing. */
static skiff_status_t check_config(const skiff_host_api_t* host, const skiff_config_t* config,
                                   skiff_errbuf_t err) {
  apikey* m = NULL;
  skiff_status_t status = read_config(host, config, &m, err);
  if (status == SKIFF_OK) free_apikey(m);
  return status;
}

static const skiff_middleware_vtable_v1_t vtable = {
    sizeof(skiff_middleware_vtable_v1_t), create, destroy, on_outbound, on_inbound, on_response};

static const skiff_component_t component = {sizeof(skiff_component_t), SKIFF_KIND_MIDDLEWARE,
                                            "apikey", &vtable, check_config};
static const skiff_component_t* const components[] = {&component};
static const skiff_plugin_info_t info = {sizeof(skiff_plugin_info_t), "middleware-apikey", "1.0.0",
                                         components, 1};

SKIFF_PLUGIN_DEFINE_ABI_VERSION();

skiff_status_t skiff_plugin_entry(const skiff_host_api_t* host, const skiff_plugin_info_t** out,
                                  skiff_errbuf_t err) {
  (void)err;
  if (host->abi.major != SKIFF_ABI_MAJOR) return SKIFF_ERR_FAILED_PRECONDITION;
  *out = &info;
  return SKIFF_OK;
}
