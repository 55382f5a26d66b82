// The listening sockets of an app-facing API: one per address of its listen list, all on one port.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace skiff {

using Acceptors = std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>>;

// Binds and listens on every address of `list` (see parse_address_list) at `port`; with port 0
// the first address gets a free port and the others share it. `api` names the API in errors
// ("HTTP API"). With `skip_missing_family`, an address of a family this machine lacks (no IPv6
// loopback, say) is left out with a warning while another one binds: the default list names
// both loopbacks, and a machine without IPv6 must still start. Any other failure, or none bound,
// is an error; nothing stays open then.
Result<Acceptors> open_acceptors(const boost::asio::any_io_executor& executor,
                                 const std::string& list, uint16_t port, const std::string& api,
                                 bool skip_missing_family);

}  // namespace skiff
