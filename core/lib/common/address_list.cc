#include "common/address_list.hpp"

#include <string>

namespace skiff {

Result<std::vector<boost::asio::ip::address>> parse_address_list(std::string_view list) {
  std::vector<boost::asio::ip::address> out;
  std::string_view rest = list;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view entry = rest.substr(0, comma);
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (entry.empty()) continue;
    if (entry == "localhost") {  // what the name means on every machine: both loopbacks
      out.push_back(boost::asio::ip::address_v6::loopback());
      out.push_back(boost::asio::ip::address_v4::loopback());
      continue;
    }
    std::string_view bare = entry;
    if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']')
      bare = bare.substr(1, bare.size() - 2);
    boost::system::error_code ec;
    auto ip = boost::asio::ip::make_address(std::string(bare), ec);
    if (ec)
      return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                        "\"" + std::string(entry) + "\" is not an IP address");
    out.push_back(ip);
  }
  if (out.empty()) return make_error(SKIFF_ERR_INVALID_ARGUMENT, "no address given");
  return out;
}

Result<HostPort> parse_host_port(std::string_view text) {
  auto bad = [&](const char* why) {
    return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                      "\"" + std::string(text.substr(0, 200)) + "\" is not host:port: " + why);
  };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad("no port");
  std::string_view host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad("unclosed [");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 address goes in brackets");
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos)
    return bad("the port is not a number");
  unsigned long n = std::stoul(std::string(port));
  if (n == 0 || n > 65535) return bad("the port is not in 1-65535");
  return HostPort{std::string(host), static_cast<uint16_t>(n)};
}

}  // namespace skiff
