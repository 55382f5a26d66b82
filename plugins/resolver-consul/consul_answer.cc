// Decoding Consul's health answers. Consul writes these; a proxy, a different Consul version or a
// hostile agent may write anything, so every field is type-checked before it is read: nlohmann's
// value() throws on a type mismatch, and a throw on a watcher thread would end the process.
#include "consul_answer.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

namespace skiff::consul {

namespace {

using json = nlohmann::json;

const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// The string at object[key], `absent` when there is none, nullopt when it is not a string.
std::optional<std::string> string_member(const json& object, std::string_view key,
                                         std::string_view absent) {
  const json* value = member(object, key);
  if (!value) return std::string(absent);
  if (!value->is_string()) return std::nullopt;
  return value->get<std::string>();
}

std::optional<uint16_t> port_from_text(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(value);
}

std::optional<uint16_t> port_from_number(const json& value) {
  if (!value.is_number_integer()) return std::nullopt;
  if (value.is_number_unsigned()) {
    auto n = value.get<uint64_t>();
    if (n < 1 || n > 65535) return std::nullopt;
    return static_cast<uint16_t>(n);
  }
  auto n = value.get<int64_t>();
  if (n < 1 || n > 65535) return std::nullopt;
  return static_cast<uint16_t>(n);
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool is_ipv6_char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

// One health entry's address in namespace `ns`, or nullopt.
std::optional<std::string> entry_address(const json& entry, std::string_view ns,
                                         const MetaKeys& keys) {
  const json* service = member(entry, "Service");
  if (!service || !service->is_object()) return std::nullopt;
  const json* meta = member(*service, "Meta");
  // Meta is null for services registered without one.
  const json empty = json::object();
  const json& meta_object = meta && meta->is_object() ? *meta : empty;
  auto entry_ns = string_member(meta_object, keys.app_namespace, "default");
  if (!entry_ns || *entry_ns != ns) return std::nullopt;

  auto host = string_member(*service, "Address", "");
  if (!host) return std::nullopt;
  if (host->empty()) {
    const json* node = member(entry, "Node");
    if (!node) return std::nullopt;
    host = string_member(*node, "Address", "");
    if (!host) return std::nullopt;
  }
  if (!is_dialable_host(*host)) return std::nullopt;

  std::optional<uint16_t> port;
  if (const json* meta_port = member(meta_object, keys.port)) {
    if (!meta_port->is_string()) return std::nullopt;
    port = port_from_text(meta_port->get_ref<const std::string&>());
  } else if (const json* service_port = member(*service, "Port")) {
    port = port_from_number(*service_port);
  }
  if (!port) return std::nullopt;
  if (host->find(':') != std::string::npos) return "[" + *host + "]:" + std::to_string(*port);
  return *host + ":" + std::to_string(*port);
}

}  // namespace

bool is_dialable_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.find(':') == std::string_view::npos)
    return std::all_of(host.begin(), host.end(), is_name_char);
  auto percent = host.find('%');
  std::string_view address = host.substr(0, percent);
  if (!std::all_of(address.begin(), address.end(), is_ipv6_char)) return false;
  if (percent == std::string_view::npos) return true;
  std::string_view zone = host.substr(percent + 1);
  return !zone.empty() && std::all_of(zone.begin(), zone.end(), is_name_char);
}

std::vector<std::string> parse_consul_services(std::string_view body, std::string_view ns,
                                               const MetaKeys& keys) {
  std::vector<std::string> out;
  try {
    auto doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
    if (!doc.is_array()) return out;
    for (const auto& entry : doc)
      if (auto address = entry_address(entry, ns, keys)) out.push_back(std::move(*address));
  } catch (const std::exception&) {
    // Out of memory on an enormous answer: nothing usable, as for any other bad answer.
    out.clear();
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace skiff::consul
