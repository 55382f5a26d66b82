// Decoding DNS answers for resolver-kubernetes. The answer bytes come from whatever server
// /etc/resolv.conf or the configuration names; c-ares parses the wire format, this file decides
// what of it can be dialled.
#include "dns_answer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

namespace skiff::kubernetes {

std::optional<std::vector<SrvTarget>> parse_srv_answer(const unsigned char* answer, int length) {
  ares_srv_reply* srv = nullptr;
  if (ares_parse_srv_reply(answer, length, &srv) != ARES_SUCCESS || !srv) {
    if (srv) ares_free_data(srv);
    return std::nullopt;
  }
  unsigned short best = 0xffff;
  for (auto* r = srv; r; r = r->next) best = std::min(best, r->priority);
  std::vector<SrvTarget> targets;
  for (auto* r = srv; r; r = r->next) {
    if (r->priority != best) continue;
    std::string host = r->host ? r->host : "";
    // c-ares gives the root name "." as "" (or "."): "decidedly not available here".
    if (host.empty() || host == "." || r->port == 0) continue;
    targets.push_back({std::move(host), r->port});
  }
  ares_free_data(srv);
  return targets;
}

std::string format_address(const sockaddr* address, socklen_t length, uint16_t port) {
  char ip[INET6_ADDRSTRLEN] = {};
  if (length < static_cast<socklen_t>(sizeof(sa_family_t))) return "";
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    if (!inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, ip,
                   sizeof ip))
      return "";
    return std::string(ip) + ":" + std::to_string(port);
  }
  if (address->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    if (!inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, ip,
                   sizeof ip))
      return "";
    return "[" + std::string(ip) + "]:" + std::to_string(port);
  }
  return "";
}

void append_addresses(const ares_addrinfo* result, uint16_t port,
                      std::vector<std::string>& addresses, int& min_ttl) {
  if (!result) return;
  for (const auto* node = result->nodes; node; node = node->ai_next) {
    if (!node->ai_addr) continue;
    std::string address = format_address(node->ai_addr, node->ai_addrlen, port);
    if (address.empty()) continue;
    addresses.push_back(std::move(address));
    int ttl = std::max(node->ai_ttl, 0);
    min_ttl = min_ttl < 0 ? ttl : std::min(min_ttl, ttl);
  }
}

}  // namespace skiff::kubernetes
