/* observer-jsonl: an example third-party observer, written in C against the skiff SDK only.
 * It appends the sidecar's spans, log records and metric snapshots to a file, one JSON object
 * per line:
 *
 *   [[observers]]
 *   type = "jsonl"
 *   metrics_interval = "30s"
 *   config = { path = "/var/log/skiff/telemetry.jsonl", queue = 10000 }
 *
 * What it shows of the observer contract (skiff/observer.h):
 * - on_span, on_log and on_metrics run on host threads, concurrently, and must not block: they
 *   format a line and queue it under a short lock. The file is written by the plugin's own
 *   thread, so a slow disk never stalls a call.
 * - The queue is bounded: when it is full a line is dropped and counted; the count is written
 *   when the instance is destroyed.
 * - Everything the host passes is borrowed for the call: the line is a copy.
 * - on_log must not log (the host drops what it does), or each record would log another. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skiff/skiff.h"

typedef struct line {
  struct line* next;
  size_t len;
  char text[]; /* JSON, ending in '\n' */
} line;

typedef struct jsonl_observer {
  FILE* file;
  size_t capacity;
  pthread_mutex_t mu;
  pthread_cond_t ready;
  line *head, *tail;
  size_t queued;
  uint64_t dropped;
  int stopping;
  pthread_t writer;
} jsonl_observer;

/* ---- a growing buffer for one line ---- */

typedef struct buf {
  char* data;
  size_t len, cap;
  int failed;
} buf;

static void put(buf* b, const char* s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 2 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (b->len + n + 2 > cap) cap *= 2;
    char* p = realloc(b->data, cap);
    if (p == NULL) {
      b->failed = 1;
      return;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

static void put_cstr(buf* b, const char* s) {
  put(b, s, strlen(s));
}

/* A JSON string. Control characters, quotes and backslashes are escaped; other bytes are copied
 * (what the host passes is UTF-8 except for values a caller chose, which may be any bytes). */
static void put_json(buf* b, skiff_str_t s) {
  put(b, "\"", 1);
  for (size_t i = 0; i < s.len; ++i) {
    unsigned char c = (unsigned char)s.ptr[i];
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      put(b, esc, 2);
    } else if (c < 0x20 || c == 0x7f) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(b, esc, 6);
    } else {
      put(b, (const char*)&c, 1);
    }
  }
  put(b, "\"", 1);
}

static void put_key(buf* b, const char* key) {
  put_json(b, skiff_str_from_cstr(key));
  put(b, ":", 1);
}

static void put_u64(buf* b, uint64_t v) {
  char n[24];
  snprintf(n, sizeof n, "%llu", (unsigned long long)v);
  put_cstr(b, n);
}

static void put_double(buf* b, double v) {
  char n[32];
  /* JSON has no NaN or infinity. */
  if (v != v || v > 1.7e308 || v < -1.7e308)
    snprintf(n, sizeof n, "null");
  else
    snprintf(n, sizeof n, "%.17g", v);
  put_cstr(b, n);
}

static void put_headers(buf* b, const skiff_header_t* headers, size_t count) {
  put(b, "{", 1);
  for (size_t i = 0; i < count; ++i) {
    if (i) put(b, ",", 1);
    put_json(b, headers[i].name);
    put(b, ":", 1);
    put_json(b, headers[i].value);
  }
  put(b, "}", 1);
}

/* ---- the queue ---- */

/* Takes the buffer's text as one line; drops it (counted) when the queue is full. */
static void enqueue(jsonl_observer* o, buf* b) {
  put(b, "\n", 1);
  line* l = b->failed ? NULL : malloc(sizeof(line) + b->len);
  if (l) {
    l->next = NULL;
    l->len = b->len;
    memcpy(l->text, b->data, b->len);
  }
  free(b->data);
  pthread_mutex_lock(&o->mu);
  if (l == NULL || o->queued >= o->capacity) {
    o->dropped++;
    pthread_mutex_unlock(&o->mu);
    free(l);
    return;
  }
  if (o->tail)
    o->tail->next = l;
  else
    o->head = l;
  o->tail = l;
  o->queued++;
  pthread_cond_signal(&o->ready);
  pthread_mutex_unlock(&o->mu);
}

/* The plugin's own thread: takes everything queued at once, writes it outside the lock. */
static void* write_lines(void* arg) {
  jsonl_observer* o = arg;
  pthread_mutex_lock(&o->mu);
  for (;;) {
    while (o->head == NULL && !o->stopping) pthread_cond_wait(&o->ready, &o->mu);
    line* batch = o->head;
    o->head = o->tail = NULL;
    o->queued = 0;
    int stopping = o->stopping;
    pthread_mutex_unlock(&o->mu);
    while (batch) {
      line* next = batch->next;
      fwrite(batch->text, 1, batch->len, o->file);
      free(batch);
      batch = next;
    }
    fflush(o->file);
    pthread_mutex_lock(&o->mu);
    if (stopping && o->head == NULL) break;
  }
  pthread_mutex_unlock(&o->mu);
  return NULL;
}

/* ---- the observer's hooks ---- */

static const char* kind_name(int32_t kind) {
  return kind == SKIFF_SPAN_SERVER ? "server" : kind == SKIFF_SPAN_CLIENT ? "client" : "internal";
}

static void on_span(void* instance, const skiff_span_t* span) {
  buf b = {0};
  put_cstr(&b, "{\"type\":\"span\",");
  put_key(&b, "trace_id");
  put_json(&b, span->trace_id);
  put_cstr(&b, ",");
  put_key(&b, "span_id");
  put_json(&b, span->span_id);
  put_cstr(&b, ",");
  put_key(&b, "parent_span_id");
  put_json(&b, span->parent_span_id);
  put_cstr(&b, ",");
  put_key(&b, "name");
  put_json(&b, span->name);
  put_cstr(&b, ",");
  put_key(&b, "kind");
  put_json(&b, skiff_str_from_cstr(kind_name(span->kind)));
  put_cstr(&b, ",");
  put_key(&b, "start_unix_nanos");
  put_u64(&b, span->start_unix_nanos);
  put_cstr(&b, ",");
  put_key(&b, "end_unix_nanos");
  put_u64(&b, span->end_unix_nanos);
  put_cstr(&b, ",");
  put_key(&b, "status");
  put_u64(&b, (uint64_t)span->status);
  put_cstr(&b, ",");
  put_key(&b, "attributes");
  put_headers(&b, span->attributes, span->attribute_count);
  put_cstr(&b, "}");
  enqueue(instance, &b);
}

static void on_log(void* instance, const skiff_log_record_t* record) {
  static const char* const levels[] = {"trace", "debug", "info", "warn", "error"};
  int32_t level = record->level < 0 ? 0 : record->level > 4 ? 4 : record->level;
  buf b = {0};
  put_cstr(&b, "{\"type\":\"log\",");
  put_key(&b, "unix_nanos");
  put_u64(&b, record->unix_nanos);
  put_cstr(&b, ",");
  put_key(&b, "level");
  put_json(&b, skiff_str_from_cstr(levels[level]));
  put_cstr(&b, ",");
  put_key(&b, "component");
  put_json(&b, record->component);
  put_cstr(&b, ",");
  put_key(&b, "message");
  put_json(&b, record->message);
  put_cstr(&b, "}");
  enqueue(instance, &b);
}

/* One line per snapshot: every series with its labels, and a histogram's count and sum. */
static void on_metrics(void* instance, const skiff_metric_t* const* metrics, size_t count) {
  buf b = {0};
  put_cstr(&b, "{\"type\":\"metrics\",\"series\":[");
  for (size_t i = 0; i < count; ++i) {
    const skiff_metric_t* m = metrics[i];
    if (i) put_cstr(&b, ",");
    put_cstr(&b, "{");
    put_key(&b, "name");
    put_json(&b, m->name);
    put_cstr(&b, ",");
    put_key(&b, "labels");
    put_headers(&b, m->labels, m->label_count);
    put_cstr(&b, ",");
    if (m->type == SKIFF_METRIC_HISTOGRAM) {
      put_key(&b, "count");
      put_u64(&b, m->count);
      put_cstr(&b, ",");
      put_key(&b, "sum");
      put_double(&b, m->sum);
    } else {
      put_key(&b, "value");
      put_double(&b, m->value);
    }
    put_cstr(&b, "}");
  }
  put_cstr(&b, "]}");
  enqueue(instance, &b);
}

/* ---- configuration, create and destroy ---- */

static skiff_status_t config_error(const skiff_host_api_t* host, const skiff_config_t* config,
                                   const char* path, const char* what, skiff_errbuf_t err) {
  char where[384];
  char message[512];
  host->config_describe(config, skiff_str_from_cstr(path), where, sizeof where);
  snprintf(message, sizeof message, "%s: %s", where, what);
  skiff_errbuf_set(err, message);
  return SKIFF_ERR_INVALID_ARGUMENT;
}

typedef struct settings {
  char path[4096];
  size_t queue;
} settings;

/* Reads and checks the table; opens nothing. */
static skiff_status_t read_settings(const skiff_host_api_t* host, const skiff_config_t* config,
                                    settings* out, skiff_errbuf_t err) {
  size_t top = host->config_size(config, skiff_str_from_cstr(""));
  for (size_t i = 0; i < top; ++i) {
    skiff_str_t key;
    if (host->config_key_at(config, skiff_str_from_cstr(""), i, &key) != SKIFF_OK) continue;
    if ((key.len == 4 && memcmp(key.ptr, "path", 4) == 0) ||
        (key.len == 5 && memcmp(key.ptr, "queue", 5) == 0))
      continue;
    char path[128];
    snprintf(path, sizeof path, "%.*s", (int)key.len, key.ptr);
    return config_error(host, config, path, "unknown key", err);
  }
  skiff_str_t path;
  if (host->config_get_string(config, skiff_str_from_cstr("path"), &path) != SKIFF_OK ||
      path.len == 0 || path.len >= sizeof out->path)
    return config_error(host, config, "path", "expected the path of the file to append to", err);
  memcpy(out->path, path.ptr, path.len);
  out->path[path.len] = '\0';
  out->queue = 10000;
  if (host->config_type(config, skiff_str_from_cstr("queue")) != SKIFF_CONFIG_NONE) {
    int64_t queue = 0;
    if (host->config_get_int(config, skiff_str_from_cstr("queue"), &queue) != SKIFF_OK ||
        queue < 1 || queue > 10000000)
      return config_error(host, config, "queue", "expected an integer from 1 to 10000000", err);
    out->queue = (size_t)queue;
  }
  return SKIFF_OK;
}

static skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config,
                             void** instance, skiff_errbuf_t err) {
  settings s;
  skiff_status_t status = read_settings(host, config, &s, err);
  if (status != SKIFF_OK) return status;
  jsonl_observer* o = calloc(1, sizeof *o);
  if (o == NULL) return SKIFF_ERR_RESOURCE_EXHAUSTED;
  o->capacity = s.queue;
  o->file = fopen(s.path, "a");
  if (o->file == NULL) {
    free(o);
    return config_error(host, config, "path", "cannot open the file for appending", err);
  }
  pthread_mutex_init(&o->mu, NULL);
  pthread_cond_init(&o->ready, NULL);
  if (pthread_create(&o->writer, NULL, write_lines, o) != 0) {
    fclose(o->file);
    free(o);
    skiff_errbuf_set(err, "cannot start the writer thread");
    return SKIFF_ERR_RESOURCE_EXHAUSTED;
  }
  *instance = o;
  return SKIFF_OK;
}

/* The host calls it after the last hook returned: what is queued is written, then the count of
 * lines that found the queue full. */
static void destroy(void* instance) {
  jsonl_observer* o = instance;
  pthread_mutex_lock(&o->mu);
  o->stopping = 1;
  pthread_cond_signal(&o->ready);
  pthread_mutex_unlock(&o->mu);
  pthread_join(o->writer, NULL);
  fprintf(o->file, "{\"type\":\"dropped\",\"lines\":%llu}\n", (unsigned long long)o->dropped);
  fclose(o->file);
  pthread_cond_destroy(&o->ready);
  pthread_mutex_destroy(&o->mu);
  free(o);
}

/* `skiffd --check-config`: the table is checked, the file is not opened. */
static skiff_status_t check_config(const skiff_host_api_t* host, const skiff_config_t* config,
                                   skiff_errbuf_t err) {
  settings s;
  return read_settings(host, config, &s, err);
}

static const skiff_observer_vtable_v1_t vtable = {
    sizeof(skiff_observer_vtable_v1_t), create, destroy, on_span, on_log, on_metrics};

static const skiff_component_t component = {sizeof(skiff_component_t), SKIFF_KIND_OBSERVER, "jsonl",
                                            &vtable, check_config};
static const skiff_component_t* const components[] = {&component};
static const skiff_plugin_info_t info = {sizeof(skiff_plugin_info_t), "observer-jsonl", "1.0.0",
                                         components, 1};

SKIFF_PLUGIN_DEFINE_ABI_VERSION();

skiff_status_t skiff_plugin_entry(const skiff_host_api_t* host, const skiff_plugin_info_t** out,
                                  skiff_errbuf_t err) {
  (void)err;
  if (host->abi.major != SKIFF_ABI_MAJOR) return SKIFF_ERR_FAILED_PRECONDITION;
  *out = &info;
  return SKIFF_OK;
}
