#include "common/units.hpp"

#include <charconv>
#include <utility>

namespace skiff {
namespace {

// Splits "123unit" into its number and unit; rejects anything without leading digits.
std::optional<std::pair<uint64_t, std::string_view>> split_number(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view unit(end, text.data() + text.size() - end);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return std::pair{n, unit};
}

std::optional<uint64_t> multiply(uint64_t n, uint64_t factor) {
  if (factor != 0 && n > UINT64_MAX / factor) return std::nullopt;
  return n * factor;
}

}  // namespace

std::optional<uint64_t> parse_size(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  auto [n, unit] = *parts;
  struct Unit {
    std::string_view name;
    uint64_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},           {"B", 1},           {"K", 1000},        {"KB", 1000},
      {"k", 1000},       {"kB", 1000},       {"Ki", 1ull << 10}, {"KiB", 1ull << 10},
      {"M", 1000000},    {"MB", 1000000},    {"Mi", 1ull << 20}, {"MiB", 1ull << 20},
      {"G", 1000000000}, {"GB", 1000000000}, {"Gi", 1ull << 30}, {"GiB", 1ull << 30},
  };
  for (const auto& u : kUnits)
    if (u.name == unit) return multiply(n, u.factor);
  return std::nullopt;
}

std::optional<uint64_t> parse_duration_ms(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  auto [n, unit] = *parts;
  if (unit.empty() || unit == "ms") return n;
  if (unit == "s") return multiply(n, 1000);
  if (unit == "m") return multiply(n, 60 * 1000);
  if (unit == "h") return multiply(n, 3600 * 1000);
  if (unit == "d") return multiply(n, 24 * 3600 * 1000);
  return std::nullopt;
}

std::string format_size(uint64_t bytes) {
  if (bytes != 0 && bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "Gi";
  if (bytes != 0 && bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "Mi";
  if (bytes != 0 && bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "Ki";
  return std::to_string(bytes);
}

std::string format_duration_ms(uint64_t ms) {
  if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace skiff
