#include "exposition.hpp"

#include <charconv>
#include <cmath>
#include <unordered_map>
#include <vector>

namespace skiff::prometheus {

namespace {

std::string_view view(skiff_str_t s) {
  return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view();
}

void append_name(std::string_view name, std::string& out) {
  if (name.empty()) {
    out += '_';
    return;
  }
  if (name[0] >= '0' && name[0] <= '9') out += '_';
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == ':';
    out += ok ? c : '_';
  }
}

// Label names may not contain ':' (data model), unlike metric names.
void append_label_name(std::string_view name, std::string& out) {
  size_t start = out.size();
  append_name(name, out);
  for (size_t i = start; i < out.size(); ++i)
    if (out[i] == ':') out[i] = '_';
}

// The length of the valid UTF-8 sequence at the start of s, 0 when it is not one.
size_t utf8_sequence(std::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) return 1;
  const size_t n = b0 >= 0xf0 ? (b0 <= 0xf4 ? 4 : 0) : b0 >= 0xe0 ? 3 : b0 >= 0xc2 ? 2 : 0;
  if (n == 0 || s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) return 0;
  const auto b1 = static_cast<unsigned char>(s[1]);
  if ((b0 == 0xe0 && b1 < 0xa0) || (b0 == 0xed && b1 >= 0xa0) || (b0 == 0xf0 && b1 < 0x90) ||
      (b0 == 0xf4 && b1 >= 0x90))
    return 0;  // overlong, a surrogate, or beyond U+10FFFF
  return n;
}

// Escapes for the format, and replaces bytes that are not UTF-8 (Prometheus refuses a scrape
// with any) by U+FFFD.
void append_escaped(std::string_view s, bool quotes, std::string& out) {
  while (!s.empty()) {
    size_t n = utf8_sequence(s);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      s.remove_prefix(1);
      continue;
    }
    if (n > 1) {
      out.append(s.substr(0, n));
      s.remove_prefix(n);
      continue;
    }
    const char c = s[0];
    s.remove_prefix(1);
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quotes)
      out += "\\\"";
    else
      out += c;
  }
}

// {a="x",b="y"} with an extra label (le) at the end when given.
void append_labels(const skiff_metric_t& m, std::string_view extra_name,
                   std::string_view extra_value, std::string& out) {
  if (m.label_count == 0 && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < m.label_count; ++i) {
    if (!first) out += ',';
    first = false;
    append_label_name(view(m.labels[i].name), out);
    out += "=\"";
    append_escaped(view(m.labels[i].value), true, out);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

std::string_view type_name(int32_t type) {
  switch (type) {
    case SKIFF_METRIC_COUNTER:
      return "counter";
    case SKIFF_METRIC_GAUGE:
      return "gauge";
    case SKIFF_METRIC_HISTOGRAM:
      return "histogram";
    default:
      return "untyped";
  }
}

void append_sample(const skiff_metric_t& m, std::string_view suffix, std::string_view extra_name,
                   std::string_view extra_value, std::string_view value, std::string& out) {
  append_name(view(m.name), out);
  out += suffix;
  append_labels(m, extra_name, extra_value, out);
  out += ' ';
  out += value;
  out += '\n';
}

void append_metric(const skiff_metric_t& m, std::string& out) {
  if (m.type != SKIFF_METRIC_HISTOGRAM) {
    append_sample(m, "", "", "", format_value(m.value), out);
    return;
  }
  // Bounds ascending with counts cumulative (the ABI's rule); a bucket list that breaks it would
  // make Prometheus reject the whole scrape, so only the consistent prefix is written.
  uint64_t previous = 0;
  double last_bound = -INFINITY;
  for (size_t i = 0; m.bucket_counts && m.bucket_bounds && i < m.bucket_count; ++i) {
    const double bound = m.bucket_bounds[i];
    if (!(bound > last_bound) || m.bucket_counts[i] < previous || std::isinf(bound)) break;
    last_bound = bound;
    previous = m.bucket_counts[i];
    append_sample(m, "_bucket", "le", format_value(bound), std::to_string(previous), out);
  }
  const uint64_t total = std::max(previous, m.count);
  append_sample(m, "_bucket", "le", "+Inf", std::to_string(total), out);
  append_sample(m, "_sum", "", "", format_value(m.sum), out);
  append_sample(m, "_count", "", "", std::to_string(total), out);
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void write_exposition(const skiff_metric_t* const* metrics, size_t count, std::string& out) {
  // Families in the order they first appear; each family's metrics in theirs.
  std::vector<std::string> order;
  std::unordered_map<std::string, std::vector<const skiff_metric_t*>> families;
  for (size_t i = 0; i < count; ++i) {
    const skiff_metric_t* m = metrics[i];
    if (!m || m->struct_size < sizeof(skiff_metric_t)) continue;
    std::string name;
    append_name(view(m->name), name);
    auto [it, inserted] = families.try_emplace(name);
    if (inserted) order.push_back(name);
    // One family has one type: a metric that disagrees with the first of its name is left out
    // rather than making the exposition invalid.
    if (!it->second.empty() && it->second.front()->type != m->type) continue;
    it->second.push_back(m);
  }
  for (const auto& name : order) {
    const auto& members = families[name];
    out += "# HELP ";
    out += name;
    out += ' ';
    append_escaped(view(members.front()->help), false, out);
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type_name(members.front()->type);
    out += '\n';
    for (const auto* m : members) append_metric(*m, out);
  }
}

}  // namespace skiff::prometheus
