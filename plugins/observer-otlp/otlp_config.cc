#include "otlp_config.hpp"

#include <charconv>
#include <stdexcept>

namespace skiff::otlp {

namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int v = 0;
    auto r = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
    if (r.ptr != in.data() + i + 3) return false;
    out += static_cast<char>(v);
    i += 2;
  }
  return true;
}

// A header value must not carry CR, LF or NUL: it is written into the request as it is.
bool header_safe(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

uint64_t number(const std::string& name, const std::string& value, uint64_t fallback, uint64_t min,
                const std::function<void(const std::string&)>& warn) {
  if (value.empty()) return fallback;
  uint64_t v = 0;
  auto r = std::from_chars(value.data(), value.data() + value.size(), v);
  if (r.ec != std::errc() || r.ptr != value.data() + value.size() || v < min) {
    warn(name + "=" + value + ": not a number of at least " + std::to_string(min) + "; using " +
         std::to_string(fallback));
    return fallback;
  }
  return v;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_key_values(const std::string& text,
                                                                  std::vector<std::string>& bad) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string_view item(text.data() + start, end - start);
    start = end + 1;
    if (trim(item).empty()) continue;
    auto eq = item.find('=');
    std::string key = eq == std::string_view::npos ? std::string() : trim(item.substr(0, eq));
    std::string value;
    if (key.empty() || !percent_decode(trim(item.substr(eq + 1)), value) || !header_safe(key) ||
        !header_safe(value)) {
      bad.push_back(std::string(item));
      continue;
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

ExportConfig read_export_config(const std::string& endpoint, const std::string& service_name,
                                const std::function<std::string(const char*)>& env,
                                const std::function<void(const std::string&)>& warn) {
  ExportConfig cfg;
  // The signal's own endpoint is used as it is; the general one gets /v1/traces appended.
  std::string url = endpoint;
  bool append_path = true;
  std::string where = "tracing.otlp_endpoint";
  if (url.empty()) {
    url = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    where = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    append_path = false;
  }
  if (url.empty()) {
    url = env("OTEL_EXPORTER_OTLP_ENDPOINT");
    where = "OTEL_EXPORTER_OTLP_ENDPOINT";
    append_path = true;
  }
  if (url.empty()) url = "http://localhost:4318", where = "the default endpoint";
  if (url.starts_with("https://"))
    throw std::invalid_argument(where + "=" + url +
                                ": https is not supported by this version of observer-otlp; send "
                                "to a collector's http:// endpoint (a local agent, typically)");
  if (!url.starts_with("http://"))
    throw std::invalid_argument(where + "=" + url + ": expected an http:// URL");
  std::string rest = url.substr(7);
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  if (authority.empty() || !header_safe(url) || url.find_first_of(" \t") != std::string::npos)
    throw std::invalid_argument(where + "=" + url + ": no host in the URL");
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string::npos)
      throw std::invalid_argument(where + "=" + url + ": unterminated IPv6 address");
    cfg.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      cfg.port = authority.substr(close + 2);
  } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
    cfg.host = authority.substr(0, colon);
    cfg.port = authority.substr(colon + 1);
  } else {
    cfg.host = authority;
    cfg.port = "80";
  }
  unsigned port = 0;
  auto r = std::from_chars(cfg.port.data(), cfg.port.data() + cfg.port.size(), port);
  if (cfg.host.empty() || r.ec != std::errc() || r.ptr != cfg.port.data() + cfg.port.size() ||
      port == 0 || port > 65535)
    throw std::invalid_argument(where + "=" + url + ": expected http://host:port");
  if (append_path) {
    while (path.ends_with('/')) path.pop_back();
    path += "/v1/traces";
  }
  cfg.target = path.empty() ? "/" : path;

  std::vector<std::string> bad;
  for (const char* name : {"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"})
    for (auto& kv : parse_key_values(env(name), bad)) cfg.headers.push_back(std::move(kv));
  for (const auto& b : bad) warn("OTEL_EXPORTER_OTLP_HEADERS: ignoring \"" + b + "\"");
  bad.clear();

  // service.name: OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES' own, else the app id.
  auto attrs = parse_key_values(env("OTEL_RESOURCE_ATTRIBUTES"), bad);
  for (const auto& b : bad) warn("OTEL_RESOURCE_ATTRIBUTES: ignoring \"" + b + "\"");
  std::string service = env("OTEL_SERVICE_NAME");
  for (const auto& [k, v] : attrs)
    if (k == "service.name" && service.empty()) service = v;
  if (service.empty()) service = service_name.empty() ? "skiffd" : service_name;
  cfg.resource.emplace_back("service.name", service);
  for (auto& [k, v] : attrs)
    if (k != "service.name") cfg.resource.emplace_back(std::move(k), std::move(v));

  for (const char* name : {"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"}) {
    std::string protocol = env(name);
    if (!protocol.empty() && protocol != "http/protobuf")
      warn(std::string(name) + "=" + protocol +
           ": observer-otlp sends http/protobuf only; the collector must accept it at " + url);
  }
  std::string timeout = env("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT");
  const char* timeout_name = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
  if (timeout.empty())
    timeout = env("OTEL_EXPORTER_OTLP_TIMEOUT"), timeout_name = "OTEL_EXPORTER_OTLP_TIMEOUT";
  cfg.timeout_ms = number(timeout_name, timeout, cfg.timeout_ms, 1, warn);
  cfg.schedule_delay_ms = number("OTEL_BSP_SCHEDULE_DELAY", env("OTEL_BSP_SCHEDULE_DELAY"),
                                 cfg.schedule_delay_ms, 1, warn);
  cfg.max_queue =
      number("OTEL_BSP_MAX_QUEUE_SIZE", env("OTEL_BSP_MAX_QUEUE_SIZE"), cfg.max_queue, 1, warn);
  cfg.max_batch = number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
                         cfg.max_batch, 1, warn);
  if (cfg.max_batch > cfg.max_queue) cfg.max_batch = cfg.max_queue;
  return cfg;
}

}  // namespace skiff::otlp
