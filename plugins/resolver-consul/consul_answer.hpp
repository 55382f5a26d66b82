// What resolver-consul reads from Consul: the body of a /v1/health/service/<app> answer, turned
// into the addresses of the instances of one namespace. Pure (no I/O, no host calls, no throw), so
// that tests/fuzz/consul_answer_fuzz.cc can feed it any bytes a broken or hostile agent might send.
#ifndef SKIFF_RESOLVER_CONSUL_ANSWER_HPP
#define SKIFF_RESOLVER_CONSUL_ANSWER_HPP

#include <string>
#include <string_view>
#include <vector>

namespace skiff::consul {

// The service meta keys under which sidecars publish their internal port and namespace.
struct MetaKeys {
  std::string_view port;
  std::string_view app_namespace;
};

// "host:port" of every entry of `body` (a JSON array of health entries) registered in namespace
// `ns`, IPv6 hosts in brackets, sorted. The port comes from the port meta key when it is present,
// else from Service.Port; the host from Service.Address, else Node.Address. Entries that are not
// as Consul documents them (wrong types, no host, a port outside 1-65535, a host that is not an IP
// address or DNS name) are skipped; a body that is not a JSON array yields no address.
std::vector<std::string> parse_consul_services(std::string_view body, std::string_view ns,
                                               const MetaKeys& keys);

// True when `host` can be dialled as it stands: a DNS name or an IPv4 address (letters, digits,
// '.', '-', '_'), or an IPv6 address (hex digits, ':', '.', and a '%zone'). At most 253 bytes.
bool is_dialable_host(std::string_view host);

}  // namespace skiff::consul

#endif  // SKIFF_RESOLVER_CONSUL_ANSWER_HPP
