#include "api/acceptors.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/v6_only.hpp>

#include "common/address_list.hpp"

namespace skiff {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

Result<Acceptors> open_once(const asio::any_io_executor& executor, const std::string& list,
                            uint16_t port, const std::string& api, bool skip_missing_family) {
  auto addresses = parse_address_list(list);
  if (!addresses)
    return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                      api + " listen addresses: " + addresses.error().message);
  Acceptors acceptors;
  for (const auto& ip : *addresses) {
    // Every address shares the port of the first one bound (which the kernel may have picked).
    tcp::endpoint ep(ip, acceptors.empty() ? port : acceptors.front()->local_endpoint().port());
    auto acceptor = std::make_unique<tcp::acceptor>(executor);
    boost::system::error_code ec;
    acceptor->open(ep.protocol(), ec);
    // SO_REUSEADDR only: a second sidecar must fail to bind a port in use, not share its calls.
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && ip.is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) {
      acceptors.push_back(std::move(acceptor));
      continue;
    }
    const std::string where = (ip.is_v6() ? "[" + ip.to_string() + "]" : ip.to_string()) + ":" +
                              std::to_string(ep.port());
    if (skip_missing_family && (ec == asio::error::address_family_not_supported ||
                                ec == boost::system::errc::address_not_available)) {
      spdlog::warn("{}: not listening on {}: {}", api, where, ec.message());
      continue;
    }
    return make_error(SKIFF_ERR_UNAVAILABLE,
                      "cannot listen on " + where + " (" + api + "): " + ec.message());
  }
  if (acceptors.empty())
    return make_error(SKIFF_ERR_UNAVAILABLE,
                      "cannot listen on any address of \"" + list + "\" (" + api + ")");
  return acceptors;
}

}  // namespace

Result<Acceptors> open_acceptors(const asio::any_io_executor& executor, const std::string& list,
                                 uint16_t port, const std::string& api, bool skip_missing_family) {
  auto opened = open_once(executor, list, port, api, skip_missing_family);
  // A free port of the first address may be taken on another: pick again, a few times.
  for (int attempt = 1; port == 0 && !opened && attempt < 8; ++attempt)
    opened = open_once(executor, list, port, api, skip_missing_family);
  return opened;
}

}  // namespace skiff
