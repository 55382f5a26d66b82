#include "telemetry/spans.hpp"

namespace skiff {

namespace {

constexpr char kHex[] = "0123456789abcdef";

template <size_t N>
std::array<char, 2 * N> hex(const std::array<uint8_t, N>& bytes) {
  std::array<char, 2 * N> out{};
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return out;
}

skiff_str_t str(std::string_view s) {
  return {s.data(), s.size()};
}

}  // namespace

SpanId new_span_id() {
  TraceParent any;
  return TraceIds::child_of(any).span_id;
}

void SpanSink::replace_observers(std::vector<Exporter> exporters,
                                 std::shared_ptr<const void> keep) {
  const bool any = !fixed_.empty() || !exporters.empty();
  observers_.store(exporters.empty() ? nullptr
                                     : std::make_shared<const ObserverSet>(
                                           ObserverSet{std::move(exporters), std::move(keep)}),
                   std::memory_order_release);
  active_.store(any, std::memory_order_relaxed);
}

void SpanSink::emit(const SpanData& span) const {
  if (!active()) return;
  // Held while the spans are handed over: a reload may replace the set meanwhile.
  const auto observers = observers_.load(std::memory_order_acquire);
  const auto trace_id = hex(span.trace.trace_id);
  const auto id = hex(span.id);
  std::array<char, 16> parent{};
  if (span.parent) parent = hex(*span.parent);
  skiff_header_t attributes[16];
  size_t n = 0;
  for (const auto& a : span.attributes) {
    if (n == std::size(attributes)) break;
    if (a.value.empty()) continue;  // not known, or not of this kind of span
    attributes[n++] = {str(a.key), str(a.value)};
  }
  skiff_span_t s{};
  s.struct_size = sizeof s;
  s.trace_id = {trace_id.data(), trace_id.size()};
  s.span_id = {id.data(), id.size()};
  s.parent_span_id = span.parent ? skiff_str_t{parent.data(), parent.size()} : skiff_str_t{};
  s.name = str(span.name);
  s.kind = span.kind;
  s.start_unix_nanos = span.start_unix_nanos;
  s.end_unix_nanos = span.end_unix_nanos;
  s.status = span.status;
  s.status_message = str(span.status_message);
  s.attributes = attributes;
  s.attribute_count = n;
  for (const auto& e : fixed_) e.on_span(e.instance, &s);
  if (observers)
    for (const auto& e : observers->exporters) e.on_span(e.instance, &s);
}

}  // namespace skiff
