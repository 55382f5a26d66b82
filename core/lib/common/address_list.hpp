// Listen-address lists as daprd's --dapr-listen-addresses takes them: "[::1],127.0.0.1", IPv6
// addresses in brackets or bare; "localhost" stands for both loopbacks.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace skiff {

// The addresses in order, empty entries skipped; the error names the entry that is not an IP
// address, or says the list is empty.
Result<std::vector<boost::asio::ip::address>> parse_address_list(std::string_view list);

}  // namespace skiff
