#include "span_batch.hpp"

#include <string_view>

#include "otlp_trace.pb.h"

namespace skiff::otlp {

namespace {

std::string_view view(skiff_str_t s) {
  return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view();
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unhex(std::string_view hex, size_t bytes, std::string& out) {
  if (hex.size() != 2 * bytes) return false;
  out.resize(bytes);
  for (size_t i = 0; i < bytes; ++i) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return true;
}

// Attributes whose values OpenTelemetry's conventions type as integers.
bool integer_attribute(std::string_view key) {
  return key == "http.response.status_code" || key == "server.port" || key == "skiff.retries" ||
         key == "rpc.grpc.status_code";
}

void set_value(std::string_view key, const std::string& value, KeyValue& kv) {
  kv.set_key(std::string(key));
  if (integer_attribute(key)) {
    char* end = nullptr;
    long long n = std::strtoll(value.c_str(), &end, 10);
    if (!value.empty() && end && *end == '\0') {
      kv.mutable_value()->set_int_value(n);
      return;
    }
  }
  kv.mutable_value()->set_string_value(value);
}

Span::SpanKind kind_of(int32_t kind) {
  switch (kind) {
    case SKIFF_SPAN_SERVER:
      return Span::SPAN_KIND_SERVER;
    case SKIFF_SPAN_CLIENT:
      return Span::SPAN_KIND_CLIENT;
    default:
      return Span::SPAN_KIND_INTERNAL;
  }
}

}  // namespace

bool copy_span(const skiff_span_t& span, OwnedSpan& out) {
  if (!unhex(view(span.trace_id), 16, out.trace_id) || !unhex(view(span.span_id), 8, out.span_id))
    return false;
  out.parent_span_id.clear();
  if (span.parent_span_id.len && !unhex(view(span.parent_span_id), 8, out.parent_span_id))
    return false;
  out.name = view(span.name);
  out.status_message = view(span.status_message);
  out.kind = span.kind;
  out.status = span.status;
  out.start = span.start_unix_nanos;
  out.end = span.end_unix_nanos;
  out.attributes.clear();
  for (size_t i = 0; span.attributes && i < span.attribute_count; ++i)
    out.attributes.emplace_back(view(span.attributes[i].name), view(span.attributes[i].value));
  return true;
}

std::string encode_export_request(const std::vector<OwnedSpan>& spans,
                                  const std::vector<std::pair<std::string, std::string>>& resource,
                                  const std::string& scope_version) {
  ExportTraceServiceRequest request;
  auto* rs = request.add_resource_spans();
  for (const auto& [k, v] : resource) set_value(k, v, *rs->mutable_resource()->add_attributes());
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("skiff");
  ss->mutable_scope()->set_version(scope_version);
  for (const auto& s : spans) {
    auto* out = ss->add_spans();
    out->set_trace_id(s.trace_id);
    out->set_span_id(s.span_id);
    if (!s.parent_span_id.empty()) out->set_parent_span_id(s.parent_span_id);
    out->set_name(s.name);
    out->set_kind(kind_of(s.kind));
    out->set_flags(1);  // W3C trace flags: only sampled spans are recorded
    out->set_start_time_unix_nano(s.start);
    out->set_end_time_unix_nano(s.end);
    for (const auto& [k, v] : s.attributes) set_value(k, v, *out->add_attributes());
    if (s.status != SKIFF_OK) {
      out->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
      out->mutable_status()->set_message(s.status_message);
    }
  }
  return request.SerializeAsString();
}

}  // namespace skiff::otlp
