// The Prometheus exposition of metrics whose names, labels, help and buckets are arbitrary bytes:
// every line written must still be a comment or a sample that Prometheus's text parser takes
// (a valid name, label values quoted with only \\, \" and \n escapes, valid UTF-8, one value).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "exposition.hpp"

namespace {

struct Reader {
  std::string_view rest;
  std::string_view field() {  // up to the next NUL
    auto n = rest.find('\0');
    auto f = rest.substr(0, n);
    rest.remove_prefix(n == std::string_view::npos ? rest.size() : n + 1);
    return f;
  }
  uint8_t byte() {
    if (rest.empty()) return 0;
    auto b = static_cast<uint8_t>(rest[0]);
    rest.remove_prefix(1);
    return b;
  }
};

bool name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

void check_line(std::string_view line) {
  if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
    if (line.find('\n') != std::string_view::npos) abort();
    return;
  }
  size_t i = 0;
  if (i >= line.size() || !name_char(line[i], true)) abort();
  while (i < line.size() && name_char(line[i], false)) ++i;
  if (i < line.size() && line[i] == '{') {
    ++i;
    for (;;) {
      if (i >= line.size() || !name_char(line[i], true) || line[i] == ':') abort();
      while (i < line.size() && name_char(line[i], false) && line[i] != ':') ++i;
      if (line.substr(i, 2) != "=\"") abort();
      i += 2;
      for (;;) {
        if (i >= line.size()) abort();
        if (line[i] == '"') break;
        if (line[i] == '\\') {
          if (i + 1 >= line.size()) abort();
          char e = line[i + 1];
          if (e != '\\' && e != '"' && e != 'n') abort();
          i += 2;
          continue;
        }
        ++i;
      }
      ++i;  // the closing quote
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i >= line.size() || line[i] != '}') abort();
      ++i;
      break;
    }
  }
  if (i >= line.size() || line[i] != ' ') abort();
  auto value = line.substr(i + 1);
  if (value.empty() || value.find(' ') != std::string_view::npos) abort();
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80                 ? 1
               : b >= 0xc2 && b < 0xe0  ? 2
               : b >= 0xe0 && b < 0xf0  ? 3
               : b >= 0xf0 && b <= 0xf4 ? 4
                                        : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in{std::string_view(reinterpret_cast<const char*>(data), size)};
  std::vector<std::string> strings;
  strings.reserve(256);
  std::vector<std::vector<skiff_header_t>> labels;
  labels.reserve(16);
  std::vector<std::vector<double>> bounds;
  bounds.reserve(16);
  std::vector<std::vector<uint64_t>> counts;
  counts.reserve(16);
  std::vector<skiff_metric_t> metrics;
  metrics.reserve(16);
  auto keep = [&](std::string_view s) {
    strings.emplace_back(s);
    return skiff_str_t{strings.back().data(), strings.back().size()};
  };
  while (!in.rest.empty() && metrics.size() < 16) {
    skiff_metric_t m{};
    m.struct_size = sizeof m;
    m.name = keep(in.field());
    m.help = keep(in.field());
    m.type = in.byte() % 4;
    auto& l = labels.emplace_back();
    for (int n = in.byte() % 4; n > 0; --n) {
      auto name = keep(in.field());
      l.push_back({name, keep(in.field())});
    }
    m.labels = l.data();
    m.label_count = l.size();
    m.value = static_cast<double>(in.byte()) - 100.0 / (in.byte() + 1);
    auto& b = bounds.emplace_back();
    auto& c = counts.emplace_back();
    for (int n = in.byte() % 5; n > 0; --n) {
      b.push_back(static_cast<double>(static_cast<int8_t>(in.byte())) / 4);
      c.push_back(in.byte());
    }
    c.push_back(in.byte());
    m.bucket_bounds = b.data();
    m.bucket_counts = c.data();
    m.bucket_count = b.size();
    m.count = in.byte();
    m.sum = in.byte() / 3.0;
    metrics.push_back(m);
  }
  std::vector<const skiff_metric_t*> ptrs;
  for (const auto& m : metrics) ptrs.push_back(&m);
  std::string out;
  skiff::prometheus::write_exposition(ptrs.data(), ptrs.size(), out);
  if (!valid_utf8(out)) abort();
  if (!out.empty() && out.back() != '\n') abort();
  std::string_view rest(out);
  while (!rest.empty()) {
    auto n = rest.find('\n');
    check_line(rest.substr(0, n));
    rest.remove_prefix(n + 1);
  }
  return 0;
}
