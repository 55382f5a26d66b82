// Listen-address lists as daprd's --dapr-listen-addresses takes them: "[::1],127.0.0.1", IPv6
// addresses in brackets or bare; "localhost" stands for both loopbacks.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace skiff {

// The addresses in order, empty entries skipped; the error names the entry that is not an IP
// address, or says the list is empty.
Result<std::vector<boost::asio::ip::address>> parse_address_list(std::string_view list);

struct HostPort {
  std::string host;  // a name or an address, IPv6 without its brackets
  uint16_t port = 0;
};
// "host:port", "[v6]:port" or "1.2.3.4:port"; the port must be 1-65535.
Result<HostPort> parse_host_port(std::string_view text);

}  // namespace skiff
