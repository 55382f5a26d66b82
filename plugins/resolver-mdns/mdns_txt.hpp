// What resolver-mdns reads from a resolved `_skiff._tcp` service: its TXT record (app id,
// namespace), address and port, turned into the instance it describes. Pure (avahi-common's string
// list and address helpers only; no daemon, no host calls), so that tests/fuzz/mdns_txt_fuzz.cc
// can feed it any record a peer on the link might publish.
#ifndef SKIFF_RESOLVER_MDNS_TXT_HPP
#define SKIFF_RESOLVER_MDNS_TXT_HPP

#include <avahi-common/address.h>
#include <avahi-common/strlst.h>

#include <cstdint>
#include <optional>
#include <string>

namespace skiff::mdns {

// The value of `key` in a TXT record, byte for byte; "" when the key is absent or has no value.
std::string txt_value(AvahiStringList* txt, const char* key);

struct MdnsInstance {
  std::string app, ns;
  std::string address;  // "ip:port", "[ipv6]:port" or "[fe80::...%ifindex]:port"
  int rank = 0;         // lower is preferred: IPv4, global IPv6, link-local IPv6
};

struct MdnsAnswer {
  std::optional<MdnsInstance> instance;
  std::string ignored_because;  // why there is no instance
};

// The instance a resolved service describes. Ignored: no app-id, an app id or namespace with
// control characters (they would alias another app's cache key), port 0, an address family other
// than IPv4/IPv6. A missing namespace means "default"; `iface` is the zone of link-local IPv6.
MdnsAnswer describe_instance(AvahiStringList* txt, const AvahiAddress& address, uint16_t port,
                             int iface);

}  // namespace skiff::mdns

#endif  // SKIFF_RESOLVER_MDNS_TXT_HPP
