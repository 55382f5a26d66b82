// resolver-kubernetes's use of DNS answers: raw SRV answers through the plugin's own decoding, and
// raw A/AAAA answers through c-ares's parser (the one its getaddrinfo uses) into the addrinfo nodes
// the plugin turns into addresses. Every target must be dialable (a name, a port in 1-65535) and
// every address must be an IP literal of its family with the port asked for.
//
// The first byte picks the record type; A/AAAA inputs and synthetic addrinfo lists take the port
// from the next two bytes.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "dns_answer.hpp"

namespace k8s = skiff::kubernetes;

namespace {

void check_address(const std::string& address, uint16_t port) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || address.substr(colon + 1) != std::to_string(port)) std::abort();
  std::string host = address.substr(0, colon);
  unsigned char bytes[16];
  if (host.starts_with('[')) {
    if (!host.ends_with(']')) std::abort();
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), bytes) != 1) std::abort();
  } else if (inet_pton(AF_INET, host.c_str(), bytes) != 1) {
    std::abort();
  }
}

void check_addresses(const ares_addrinfo& result, uint16_t port) {
  std::vector<std::string> addresses;
  int min_ttl = -1;
  k8s::append_addresses(&result, port, addresses, min_ttl);
  if (addresses.empty() ? min_ttl != -1 : min_ttl < 0) std::abort();
  for (const auto& a : addresses) check_address(a, port);
}

// The addresses c-ares parsed out of an A or AAAA answer, as getaddrinfo nodes.
void addresses_from_answer(const unsigned char* answer, int length, int family, uint16_t port) {
  constexpr int kMax = 64;
  std::vector<sockaddr_in> v4(kMax);
  std::vector<sockaddr_in6> v6(kMax);
  std::vector<ares_addrinfo_node> nodes(kMax);
  int count = kMax;
  if (family == AF_INET) {
    ares_addrttl ttls[kMax];
    if (ares_parse_a_reply(answer, length, nullptr, ttls, &count) != ARES_SUCCESS) return;
    for (int i = 0; i < count; ++i) {
      v4[i] = {};
      v4[i].sin_family = AF_INET;
      v4[i].sin_addr = ttls[i].ipaddr;
      nodes[i].ai_ttl = ttls[i].ttl;
      nodes[i].ai_addr = reinterpret_cast<sockaddr*>(&v4[i]);
      nodes[i].ai_addrlen = sizeof(sockaddr_in);
    }
  } else {
    ares_addr6ttl ttls[kMax];
    if (ares_parse_aaaa_reply(answer, length, nullptr, ttls, &count) != ARES_SUCCESS) return;
    for (int i = 0; i < count; ++i) {
      v6[i] = {};
      v6[i].sin6_family = AF_INET6;
      std::memcpy(&v6[i].sin6_addr, &ttls[i].ip6addr, sizeof v6[i].sin6_addr);
      nodes[i].ai_ttl = ttls[i].ttl;
      nodes[i].ai_addr = reinterpret_cast<sockaddr*>(&v6[i]);
      nodes[i].ai_addrlen = sizeof(sockaddr_in6);
    }
  }
  if (count < 0 || count > kMax) std::abort();
  for (int i = 0; i + 1 < count; ++i) nodes[i].ai_next = &nodes[i + 1];
  ares_addrinfo result{};
  result.nodes = count ? nodes.data() : nullptr;
  check_addresses(result, port);
}

// Nodes straight from the input: family, address length and TTL as a broken resolver might
// report them, to exercise the plugin's own checks.
void addresses_from_bytes(const uint8_t* data, size_t size, uint16_t port) {
  constexpr size_t kRecord = 1 + 1 + 4 + sizeof(sockaddr_in6);
  std::vector<sockaddr_in6> storage(size / kRecord + 1);
  std::vector<ares_addrinfo_node> nodes(size / kRecord + 1);
  size_t n = 0;
  for (; (n + 1) * kRecord <= size; ++n) {
    const uint8_t* r = data + n * kRecord;
    std::memcpy(&storage[n], r + 6, sizeof(sockaddr_in6));
    auto* sa = reinterpret_cast<sockaddr*>(&storage[n]);
    sa->sa_family = r[0] % 3 == 0 ? AF_INET : r[0] % 3 == 1 ? AF_INET6 : r[0];
    nodes[n].ai_addr = r[1] == 0xff ? nullptr : sa;
    nodes[n].ai_addrlen = r[1] % (sizeof(sockaddr_in6) + 1);
    int32_t ttl;
    std::memcpy(&ttl, r + 2, sizeof ttl);
    nodes[n].ai_ttl = ttl;
    if (n) nodes[n - 1].ai_next = &nodes[n];
  }
  ares_addrinfo result{};
  result.nodes = n ? nodes.data() : nullptr;
  check_addresses(result, port);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t mode = data[0] % 4;
  if (mode == 0) {
    auto targets = k8s::parse_srv_answer(data + 1, static_cast<int>(size - 1));
    if (!targets) return 0;
    for (const auto& t : *targets)
      if (t.host.empty() || t.host == "." || t.port == 0) std::abort();
    return 0;
  }
  const uint16_t port = static_cast<uint16_t>(1 + (data[1] << 8 | data[2]) % 65535);
  const unsigned char* rest = data + 3;
  const int length = static_cast<int>(size - 3);
  if (mode == 1) addresses_from_answer(rest, length, AF_INET, port);
  if (mode == 2) addresses_from_answer(rest, length, AF_INET6, port);
  if (mode == 3) addresses_from_bytes(rest, size - 3, port);
  return 0;
}
