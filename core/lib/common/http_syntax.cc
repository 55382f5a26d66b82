#include "common/http_syntax.hpp"

#include <array>
#include <charconv>

namespace skiff {
namespace {

constexpr std::array<bool, 256> make_tchar_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr auto kTchar = make_tchar_table();

// Printable for the message log: control bytes as \xNN, at most 64 characters.
std::string shown(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s.substr(0, 64)) {
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 64) out += "...";
  return out;
}

}  // namespace

bool is_http_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!kTchar[c]) return false;
  return true;
}

bool is_http_field_value(std::string_view s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

bool is_http_target_part(std::string_view s) {
  for (unsigned char c : s)
    if (c <= 0x20 || c == 0x7f) return false;
  return true;
}

bool names_field(std::string_view name, std::string_view lower_name) {
  if (name.size() != lower_name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i] == '_' ? '-' : name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower_name[i]) return false;
  }
  return true;
}

std::optional<uint64_t> parse_content_length(std::string_view s) {
  uint64_t n = 0;
  if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

std::optional<std::string> invalid_header(std::string_view name, std::string_view value) {
  if (!is_http_token(name)) return "header name '" + shown(name) + "' is not an HTTP token";
  if (!is_http_field_value(value))
    return "value of header '" + std::string(name) + "' contains a control character ('" +
           shown(value) + "')";
  return std::nullopt;
}

}  // namespace skiff
