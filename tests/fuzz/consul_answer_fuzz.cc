// resolver-consul's decoding of Consul health answers (/v1/health/service/<app>). Whatever the
// body, decoding must not throw or crash, and every address it returns must be dialable as it
// stands: host:port, a port in 1-65535, IPv6 hosts in brackets, the list sorted.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "consul_answer.hpp"

namespace consul = skiff::consul;

namespace {
void check_address(std::string_view address) {
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos) std::abort();
  std::string_view host = address.substr(0, colon), port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port[0] == '0') std::abort();
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') std::abort();
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value < 1 || value > 65535) std::abort();
  if (host.starts_with('[')) {
    if (!host.ends_with(']')) std::abort();
    host = host.substr(1, host.size() - 2);
    if (host.find(':') == std::string_view::npos) std::abort();
  } else if (host.find(':') != std::string_view::npos) {
    std::abort();
  }
  if (!consul::is_dialable_host(host)) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  const consul::MetaKeys keys{"SKIFF_PORT", "SKIFF_NAMESPACE"};
  for (std::string_view ns : {"default", "prod"}) {
    auto addresses = consul::parse_consul_services(body, ns, keys);
    if (!std::is_sorted(addresses.begin(), addresses.end())) std::abort();
    for (const auto& a : addresses) check_address(a);
  }
  return 0;
}
