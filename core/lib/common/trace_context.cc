#include "common/trace_context.hpp"

#include <algorithm>
#include <vector>

namespace skiff {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Lower-case hex only: the spec's HEXDIGLC.
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

template <size_t N>
bool parse_hex(std::string_view text, std::array<uint8_t, N>& out) {
  if (text.size() != 2 * N) return false;
  for (size_t i = 0; i < N; ++i) {
    int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& bytes) {
  std::string out(2 * N, '0');
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xF];
  }
  return out;
}

template <size_t N>
bool all_zero(const std::array<uint8_t, N>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

bool is_lcalpha(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_key_char(char c) {
  return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

// key = simple-key / multi-tenant-key (W3C trace-context 3.3.1.3.1).
bool valid_key(std::string_view key) {
  auto at = key.find('@');
  if (at == std::string_view::npos) {
    if (key.empty() || key.size() > 256 || !is_lcalpha(key[0])) return false;
    return std::all_of(key.begin(), key.end(), is_key_char);
  }
  auto tenant = key.substr(0, at), system = key.substr(at + 1);
  if (tenant.empty() || tenant.size() > 241 || system.empty() || system.size() > 14) return false;
  if (!is_lcalpha(tenant[0]) && !is_digit(tenant[0])) return false;
  if (!is_lcalpha(system[0])) return false;
  return std::all_of(tenant.begin(), tenant.end(), is_key_char) &&
         std::all_of(system.begin(), system.end(), is_key_char);
}

// value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E.
bool valid_value(std::string_view value) {
  auto nblk = [](char c) { return c >= 0x21 && c <= 0x7E && c != ',' && c != '='; };
  if (value.empty() || value.size() > 256 || !nblk(value.back())) return false;
  return std::all_of(value.begin(), value.end(), [&](char c) { return c == ' ' || nblk(c); });
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string TraceParent::header() const {
  std::string out = "00-";
  out += to_hex(trace_id);
  out += '-';
  out += to_hex(span_id);
  out += sampled ? "-01" : "-00";
  return out;
}

std::string TraceParent::trace_id_hex() const {
  return to_hex(trace_id);
}
std::string TraceParent::span_id_hex() const {
  return to_hex(span_id);
}

std::optional<TraceParent> parse_traceparent(std::string_view value) {
  // version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55.
  constexpr size_t kSize = 55;
  if (value.size() < kSize || value[2] != '-' || value[35] != '-' || value[52] != '-')
    return std::nullopt;
  std::array<uint8_t, 1> version{}, flags{};
  TraceParent out;
  if (!parse_hex(value.substr(0, 2), version) || version[0] == 0xFF) return std::nullopt;
  // Version 00 is exactly 55 characters; a later version may append fields after a dash.
  if (version[0] == 0 ? value.size() != kSize : (value.size() > kSize && value[kSize] != '-'))
    return std::nullopt;
  if (!parse_hex(value.substr(3, 32), out.trace_id) || all_zero(out.trace_id)) return std::nullopt;
  if (!parse_hex(value.substr(36, 16), out.span_id) || all_zero(out.span_id)) return std::nullopt;
  if (!parse_hex(value.substr(53, 2), flags)) return std::nullopt;
  out.sampled = (flags[0] & 0x01) != 0;
  return out;
}

std::optional<std::string> normalize_tracestate(std::string_view value) {
  std::vector<std::string_view> members;
  while (true) {
    auto comma = value.find(',');
    auto member = trim_ows(value.substr(0, comma));
    if (!member.empty()) {
      auto eq = member.find('=');
      if (eq == std::string_view::npos || !valid_key(member.substr(0, eq)) ||
          !valid_value(member.substr(eq + 1)))
        return std::nullopt;
      auto key = member.substr(0, eq + 1);
      if (std::any_of(members.begin(), members.end(),
                      [&](std::string_view m) { return m.starts_with(key); }))
        return std::nullopt;  // a key twice
      members.push_back(member);
      if (members.size() > 32) return std::nullopt;
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  auto joined_size = [&] {
    size_t n = 0;
    for (auto m : members) n += m.size() + 1;
    return n == 0 ? 0 : n - 1;
  };
  if (joined_size() > kMaxTraceState)
    std::erase_if(members, [](std::string_view m) { return m.size() > 128; });
  while (joined_size() > kMaxTraceState) members.pop_back();
  std::string out;
  for (auto m : members) {
    if (!out.empty()) out += ',';
    out += m;
  }
  return out;
}

std::optional<TraceParent> parse_grpc_trace_bin(std::string_view bytes) {
  // version 0, then fields: 0 trace id (16 bytes), 1 span id (8 bytes), 2 options (1 byte). A
  // field of an unknown id ends what can be read; the known ones must have come by then.
  if (bytes.empty() || bytes[0] != 0) return std::nullopt;
  TraceParent out;
  bool have_trace = false, have_span = false;
  size_t i = 1;
  while (i < bytes.size()) {
    const auto field = static_cast<uint8_t>(bytes[i++]);
    if (field == 0 && i + 16 <= bytes.size()) {
      std::copy_n(bytes.begin() + i, 16, out.trace_id.begin());
      i += 16;
      have_trace = true;
    } else if (field == 1 && i + 8 <= bytes.size()) {
      std::copy_n(bytes.begin() + i, 8, out.span_id.begin());
      i += 8;
      have_span = true;
    } else if (field == 2 && i + 1 <= bytes.size()) {
      out.sampled = (static_cast<uint8_t>(bytes[i]) & 0x01) != 0;
      i += 1;
    } else {
      break;
    }
  }
  if (!have_trace || !have_span || all_zero(out.trace_id) || all_zero(out.span_id))
    return std::nullopt;
  return out;
}

std::string grpc_trace_bin(const TraceParent& parent) {
  std::string out;
  out.reserve(29);
  out += '\0';
  out += '\0';
  out.append(reinterpret_cast<const char*>(parent.trace_id.data()), 16);
  out += '\1';
  out.append(reinterpret_cast<const char*>(parent.span_id.data()), 8);
  out += '\2';
  out += static_cast<char>(parent.sampled ? 1 : 0);
  return out;
}

std::mt19937_64& TraceIds::generator() {
  thread_local std::mt19937_64 rng([] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }());
  return rng;
}

TraceParent TraceIds::child_of(const TraceParent& parent) {
  TraceParent out = parent;
  do {
    uint64_t v = generator()();
    for (size_t i = 0; i < 8; ++i) out.span_id[i] = static_cast<uint8_t>(v >> (8 * i));
  } while (all_zero(out.span_id));
  return out;
}

TraceParent TraceIds::new_trace(bool sampled) {
  TraceParent out;
  out.sampled = sampled;
  do {
    uint64_t hi = generator()(), lo = generator()();
    for (size_t i = 0; i < 8; ++i) {
      out.trace_id[i] = static_cast<uint8_t>(hi >> (8 * (7 - i)));
      out.trace_id[8 + i] = static_cast<uint8_t>(lo >> (8 * (7 - i)));
    }
  } while (all_zero(out.trace_id));
  return child_of(out);
}

bool sample_trace_id(const std::array<uint8_t, 16>& trace_id, double rate) {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  // The last 8 bytes as a big-endian number against rate * 2^64 (OpenTelemetry's
  // TraceIdRatioBased reads the same bytes).
  uint64_t low = 0;
  for (size_t i = 8; i < 16; ++i) low = low << 8 | trace_id[i];
  return static_cast<double>(low) < rate * 18446744073709551616.0;
}

}  // namespace skiff
