// Decoding the TXT records and addresses of `_skiff._tcp` services for resolver-mdns. Anyone on
// the link can publish such a service, so nothing in it is trusted to be well formed.
#include "mdns_txt.hpp"

#include <avahi-common/malloc.h>

#include <algorithm>
#include <string_view>

namespace skiff::mdns {

namespace {
bool has_control_characters(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}
}  // namespace

std::string txt_value(AvahiStringList* txt, const char* key) {
  AvahiStringList* item = avahi_string_list_find(txt, key);
  if (!item) return "";
  char *k = nullptr, *v = nullptr;
  size_t size = 0;
  std::string out;
  // The size, not the terminating NUL: a value may hold NUL bytes, which must not shorten it
  // into another app's id.
  if (avahi_string_list_get_pair(item, &k, &v, &size) == 0 && v) out.assign(v, size);
  avahi_free(k);
  avahi_free(v);
  return out;
}

MdnsAnswer describe_instance(AvahiStringList* txt, const AvahiAddress& address, uint16_t port,
                             int iface) {
  MdnsAnswer answer;
  MdnsInstance instance;
  instance.app = txt_value(txt, "app-id");
  if (instance.app.empty()) {
    answer.ignored_because = "no app-id in TXT";
    return answer;
  }
  instance.ns = txt_value(txt, "namespace");
  if (instance.ns.empty()) instance.ns = "default";
  if (has_control_characters(instance.app) || has_control_characters(instance.ns)) {
    answer.ignored_because = "control characters in the app-id or namespace in TXT";
    return answer;
  }
  if (port == 0) {
    answer.ignored_because = "port 0";
    return answer;
  }
  char ip[AVAHI_ADDRESS_STR_MAX] = {};
  if (address.proto != AVAHI_PROTO_INET && address.proto != AVAHI_PROTO_INET6) {
    answer.ignored_because = "an address that is neither IPv4 nor IPv6";
    return answer;
  }
  if (!avahi_address_snprint(ip, sizeof ip, &address)) {
    answer.ignored_because = "an address that cannot be printed";
    return answer;
  }
  if (address.proto == AVAHI_PROTO_INET) {
    instance.address = std::string(ip) + ":" + std::to_string(port);
  } else {
    const uint8_t* bytes = address.data.ipv6.address;
    bool link_local = bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
    std::string host = ip;
    if (link_local) host += "%" + std::to_string(iface);  // the zone: which link to dial on
    instance.address = "[" + host + "]:" + std::to_string(port);
    instance.rank = link_local ? 2 : 1;
  }
  answer.instance = std::move(instance);
  return answer;
}

}  // namespace skiff::mdns
