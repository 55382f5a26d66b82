// skiff plugin SDK v1: optional header-only C++ helpers. Nothing here crosses the ABI: it only
// keeps C++ exceptions on the plugin's side and converts between views and std::string_view.
#ifndef SKIFF_PLUGIN_HPP
#define SKIFF_PLUGIN_HPP

#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "skiff/skiff.h"

namespace skiff::sdk {

inline std::string_view view(skiff_str_t s) {
  return s.len ? std::string_view(s.ptr, s.len) : std::string_view();
}
inline skiff_str_t str(std::string_view s) {
  return skiff_str_t{s.data(), s.size()};
}
inline skiff_bytes_t bytes(std::string_view s) {
  return skiff_bytes_t{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Runs fn() and turns any exception into an error status with its message, so that no exception
// ever crosses the plugin boundary. fn returns skiff_status_t.
template <typename Fn>
skiff_status_t guard(skiff_errbuf_t err, Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    skiff_errbuf_set(err, "out of memory");
    return SKIFF_ERR_RESOURCE_EXHAUSTED;
  } catch (const std::exception& e) {
    skiff_errbuf_set(err, e.what());
    return SKIFF_ERR_INTERNAL;
  } catch (...) {
    skiff_errbuf_set(err, "unknown C++ exception");
    return SKIFF_ERR_INTERNAL;
  }
}

// Thin reader over the host's configuration accessors.
class ConfigReader {
 public:
  ConfigReader(const skiff_host_api_t* host, const skiff_config_t* config)
      : host_(host), config_(config) {}

  int32_t type(std::string_view path) const { return host_->config_type(config_, str(path)); }
  bool has(std::string_view path) const { return type(path) != SKIFF_CONFIG_NONE; }
  std::string describe(std::string_view path) const {
    char buf[512];
    host_->config_describe(config_, str(path), buf, sizeof buf);
    return buf;
  }
  // Returns the value, or fallback when the key is absent. A value of the wrong type throws.
  std::string string_or(std::string_view path, std::string_view fallback) const {
    skiff_str_t out{};
    auto st = host_->config_get_string(config_, str(path), &out);
    if (st == SKIFF_ERR_NOT_FOUND) return std::string(fallback);
    if (st != SKIFF_OK) throw std::invalid_argument(describe(path) + ": expected a string");
    return std::string(view(out));
  }
  int64_t int_or(std::string_view path, int64_t fallback) const {
    int64_t out = 0;
    auto st = host_->config_get_int(config_, str(path), &out);
    if (st == SKIFF_ERR_NOT_FOUND) return fallback;
    if (st != SKIFF_OK) throw std::invalid_argument(describe(path) + ": expected an integer");
    return out;
  }
  bool bool_or(std::string_view path, bool fallback) const {
    int32_t out = 0;
    auto st = host_->config_get_bool(config_, str(path), &out);
    if (st == SKIFF_ERR_NOT_FOUND) return fallback;
    if (st != SKIFF_OK) throw std::invalid_argument(describe(path) + ": expected true or false");
    return out != 0;
  }
  uint64_t duration_ms_or(std::string_view path, uint64_t fallback) const {
    uint64_t out = 0;
    auto st = host_->config_get_duration_ms(config_, str(path), &out);
    if (st == SKIFF_ERR_NOT_FOUND) return fallback;
    if (st != SKIFF_OK)
      throw std::invalid_argument(describe(path) +
                                  ": expected a duration such as \"500ms\" or \"5s\"");
    return out;
  }
  // An array of strings; a missing key gives an empty list.
  std::vector<std::string> string_list(std::string_view path) const {
    std::vector<std::string> out;
    if (!has(path)) return out;
    if (type(path) != SKIFF_CONFIG_ARRAY)
      throw std::invalid_argument(describe(path) + ": expected an array of strings");
    size_t n = host_->config_size(config_, str(path));
    for (size_t i = 0; i < n; ++i)
      out.push_back(string_or(std::string(path) + "[" + std::to_string(i) + "]", ""));
    return out;
  }
  // A table of strings, in file order; a missing key gives an empty list.
  std::vector<std::pair<std::string, std::string>> string_table(std::string_view path) const {
    std::vector<std::pair<std::string, std::string>> out;
    if (!has(path)) return out;
    if (type(path) != SKIFF_CONFIG_TABLE)
      throw std::invalid_argument(describe(path) + ": expected a table of strings");
    size_t n = host_->config_size(config_, str(path));
    for (size_t i = 0; i < n; ++i) {
      skiff_str_t key{};
      if (host_->config_key_at(config_, str(path), i, &key) != SKIFF_OK) continue;
      std::string k(view(key));
      out.emplace_back(k, string_or(std::string(path) + "." + k, ""));
    }
    return out;
  }
  // Throws naming the first key of the table that is not in `known`.
  template <typename Known>
  void reject_unknown_keys(const Known& known) const {
    size_t n = host_->config_size(config_, str(""));
    for (size_t i = 0; i < n; ++i) {
      skiff_str_t key{};
      if (host_->config_key_at(config_, str(""), i, &key) != SKIFF_OK) continue;
      bool found = false;
      for (std::string_view k : known) found = found || k == view(key);
      if (!found) throw std::invalid_argument(describe(view(key)) + ": unknown key");
    }
  }

 private:
  const skiff_host_api_t* host_;
  const skiff_config_t* config_;
};

}  // namespace skiff::sdk

#endif  // SKIFF_PLUGIN_HPP
