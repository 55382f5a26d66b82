/* skiff plugin ABI v1: observer components (kind SKIFF_KIND_OBSERVER).
 *
 * An observer receives finished spans, log records and periodic metric snapshots and exports them.
 * Since 1.4 it may also pull the host's metrics itself with host->collect_metrics (skiff/host.h).
 * The host of ABI 1.4 creates the "prometheus" observer from [metrics] and serves collect_metrics,
 * and calls on_span of the "otlp" observer for every span it records (only sampled traces); it
 * does not call on_log or on_metrics yet.
 *
 * Threading contract:
 * - create()/destroy() on the host's control thread.
 * - on_span/on_log/on_metrics may be called from any host thread, concurrently: an instance must
 *   be thread-safe. They must not block: copy what you need into your own queue and export from
 *   your own worker. Everything passed is borrowed for the duration of the call.
 * - destroy() comes after the last on_* call returned. */
#ifndef SKIFF_OBSERVER_H
#define SKIFF_OBSERVER_H

#include "skiff/host.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { SKIFF_SPAN_INTERNAL = 0, SKIFF_SPAN_SERVER = 1, SKIFF_SPAN_CLIENT = 2 };

typedef struct skiff_span_t {
  uint32_t struct_size;
  skiff_str_t trace_id;       /* 32 lower-case hex digits (W3C trace context) */
  skiff_str_t span_id;        /* 16 hex digits */
  skiff_str_t parent_span_id; /* empty for a root span */
  skiff_str_t name;
  int32_t kind; /* SKIFF_SPAN_* */
  uint64_t start_unix_nanos;
  uint64_t end_unix_nanos;
  skiff_status_t status;
  skiff_str_t status_message;
  const skiff_header_t* attributes;
  size_t attribute_count;
} skiff_span_t;

typedef struct skiff_log_record_t {
  uint32_t struct_size;
  uint64_t unix_nanos;
  int32_t level; /* SKIFF_LOG_* */
  skiff_str_t component;
  skiff_str_t message;
} skiff_log_record_t;

enum { SKIFF_METRIC_COUNTER = 0, SKIFF_METRIC_GAUGE = 1, SKIFF_METRIC_HISTOGRAM = 2 };

typedef struct skiff_metric_t {
  uint32_t struct_size;
  skiff_str_t name; /* e.g. "skiff_invoke_requests_total" */
  skiff_str_t help;
  int32_t type; /* SKIFF_METRIC_* */
  const skiff_header_t* labels;
  size_t label_count;
  double value; /* counter or gauge value */
  /* Histograms: bucket_count upper bounds (ascending, +Inf implied) and cumulative counts
   * (bucket_count + 1 entries, the last one for +Inf), plus the total count and sum. */
  const double* bucket_bounds;
  const uint64_t* bucket_counts;
  size_t bucket_count;
  uint64_t count;
  double sum;
} skiff_metric_t;

typedef struct skiff_observer_vtable_v1_t {
  uint32_t struct_size;
  skiff_status_t (*create)(const skiff_host_api_t* host, const skiff_config_t* config,
                           void** instance, skiff_errbuf_t err);
  void (*destroy)(void* instance);
  void (*on_span)(void* instance, const skiff_span_t* span);        /* optional */
  void (*on_log)(void* instance, const skiff_log_record_t* record); /* optional */
  /* Optional. One snapshot: `count` metrics, each pointer borrowed for the call. */
  void (*on_metrics)(void* instance, const skiff_metric_t* const* metrics, size_t count);
} skiff_observer_vtable_v1_t;

#ifdef __cplusplus
}
#endif
#endif /* SKIFF_OBSERVER_H */
