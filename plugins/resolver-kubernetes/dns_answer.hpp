// What resolver-kubernetes reads from DNS: a raw SRV answer, and the addresses c-ares found for a
// name. Pure (no I/O, no channel, no host calls), so that tests/fuzz/dns_answer_fuzz.cc can feed
// it any answer a broken or hostile DNS server might send.
#ifndef SKIFF_RESOLVER_KUBERNETES_DNS_ANSWER_HPP
#define SKIFF_RESOLVER_KUBERNETES_DNS_ANSWER_HPP

#include <ares.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace skiff::kubernetes {

struct SrvTarget {
  std::string host;
  uint16_t port = 0;
};

// The targets of the most preferred priority (lowest value) in a raw DNS answer to an SRV query,
// as SRV clients use them. nullopt when the answer holds no SRV record (the caller then looks up
// the name's A/AAAA records); an empty list when the records say there is no service: RFC 2782's
// target "." and port 0 cannot be dialled, and are left out.
std::optional<std::vector<SrvTarget>> parse_srv_answer(const unsigned char* answer, int length);

// "ip:port", or "[ip]:port" for IPv6; "" for an address of another family or one shorter than
// its family's sockaddr.
std::string format_address(const sockaddr* address, socklen_t length, uint16_t port);

// Appends "ip:port" for every node of a c-ares getaddrinfo result to `addresses`, and lowers
// `min_ttl` (-1: none yet) to the smallest TTL among them; a TTL with the top bit set counts as 0
// (RFC 2181 §8).
void append_addresses(const ares_addrinfo* result, uint16_t port,
                      std::vector<std::string>& addresses, int& min_ttl);

}  // namespace skiff::kubernetes

#endif  // SKIFF_RESOLVER_KUBERNETES_DNS_ANSWER_HPP
