/* skiff plugin ABI v1: observer components (kind SKIFF_KIND_OBSERVER).
 *
 * An observer receives finished spans, log records and periodic metric snapshots and exports them.
 * Every member below is there since 1.0; since 1.4 an observer may also pull the host's metrics
 * itself with host->collect_metrics (skiff/host.h).
 *
 * Which observers the host creates (skiffd 0.1, ABI 1.4):
 * - each [[observers]] entry of the configuration, by its type: it gets on_span, on_log and, every
 *   metrics_interval, on_metrics, whichever it implements (sdk/examples/observer-jsonl);
 * - the "prometheus" observer from [metrics] and the "otlp" observer from [tracing], with tables
 *   the host builds from those sections.
 * An observer with on_span turns span recording on: the host then records every sampled call
 * (tracing.sampling_rate). Without one, spans cost nothing.
 *
 * Threading contract:
 * - create()/destroy() on the host's control thread; create() is where a worker thread starts.
 * - on_span comes from the event-loop thread that finished the span; on_log from the host's
 *   logging thread (never an event loop); on_metrics from an event-loop thread, or the control
 *   thread for the last snapshot at shutdown. Calls for different records run concurrently: an
 *   instance must be thread-safe.
 * - None of them may block: copy what you need into your own bounded queue and export from your
 *   own worker. Everything passed is borrowed for the duration of the call.
 * - on_log must not call host->log: the host drops what it logs from there (each record would
 *   log another).
 * - destroy() comes after the last on_* call returned; the host pushes one last on_metrics
 *   snapshot before it. */
#ifndef SKIFF_OBSERVER_H
#define SKIFF_OBSERVER_H

#include "skiff/host.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { SKIFF_SPAN_INTERNAL = 0, SKIFF_SPAN_SERVER = 1, SKIFF_SPAN_CLIENT = 2 };

/* Since 1.0. Ids are this trace's W3C ids; attributes follow OpenTelemetry's conventions for HTTP
 * and RPC, plus skiff.* (docs/observability.md). */
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

/* Since 1.0. One record the host logged (at or above log.level). `component` is "skiffd", a
 * plugin's name (what it passed to host->log) or, for an access-log record, its scope
 * ("skiffd.http-info", "skiffd.grpc-info"; with log.json the message is then a JSON object). */
typedef struct skiff_log_record_t {
  uint32_t struct_size;
  uint64_t unix_nanos;
  int32_t level; /* SKIFF_LOG_* */
  skiff_str_t component;
  skiff_str_t message;
} skiff_log_record_t;

enum { SKIFF_METRIC_COUNTER = 0, SKIFF_METRIC_GAUGE = 1, SKIFF_METRIC_HISTOGRAM = 2 };

/* Since 1.0. One series of a snapshot: Dapr's and skiff's metric names (docs/observability.md). */
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
  /* Since 1.0, optional. A finished span of a sampled call. */
  void (*on_span)(void* instance, const skiff_span_t* span);
  /* Since 1.0, optional. A log record. */
  void (*on_log)(void* instance, const skiff_log_record_t* record);
  /* Since 1.0, optional. One snapshot: `count` metrics, each pointer borrowed for the call. */
  void (*on_metrics)(void* instance, const skiff_metric_t* const* metrics, size_t count);
} skiff_observer_vtable_v1_t;

#ifdef __cplusplus
}
#endif
#endif /* SKIFF_OBSERVER_H */
