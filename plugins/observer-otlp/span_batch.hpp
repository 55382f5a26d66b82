// Spans as observer-otlp keeps them between on_span and the export, and their OTLP encoding.
#ifndef SKIFF_OBSERVER_OTLP_SPAN_BATCH_HPP
#define SKIFF_OBSERVER_OTLP_SPAN_BATCH_HPP

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "skiff/observer.h"

namespace skiff::otlp {

// A copy of a skiff_span_t that outlives the call.
struct OwnedSpan {
  std::string trace_id, span_id, parent_span_id;  // bytes (16, 8, 8 or empty)
  std::string name, status_message;
  int32_t kind = SKIFF_SPAN_INTERNAL;
  int32_t status = 0;
  uint64_t start = 0, end = 0;
  std::vector<std::pair<std::string, std::string>> attributes;
};

// False (and nothing kept) when the span's ids are not hex of the right length.
bool copy_span(const skiff_span_t& span, OwnedSpan& out);

// The body of POST /v1/traces: an ExportTraceServiceRequest with one resource and one scope.
std::string encode_export_request(const std::vector<OwnedSpan>& spans,
                                  const std::vector<std::pair<std::string, std::string>>& resource,
                                  const std::string& scope_version);

}  // namespace skiff::otlp

#endif
