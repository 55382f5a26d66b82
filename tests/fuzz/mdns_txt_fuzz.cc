// resolver-mdns's reading of a resolved `_skiff._tcp` service: the TXT record's raw RDATA (parsed
// by avahi-common, as the daemon does), the address and the port, into the instance it describes.
// Every instance must be dialable (an IP literal of its family, a port in 1-65535) and carry an app
// id without control characters; the TXT record written out again and read back must describe the
// same instance.
//
// Input: a family byte, 16 address bytes, a 2-byte port, a 4-byte interface index, then the TXT
// RDATA.
#include <arpa/inet.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mdns_txt.hpp"

namespace mdns = skiff::mdns;

namespace {

void check(const mdns::MdnsAnswer& answer, const AvahiAddress& address, uint16_t port) {
  if (!answer.instance) {
    if (answer.ignored_because.empty()) std::abort();
    return;
  }
  const auto& i = *answer.instance;
  if (i.app.empty() || i.ns.empty() || port == 0) std::abort();
  for (unsigned char c : i.app + i.ns)
    if (c < 0x20 || c == 0x7f) std::abort();
  auto colon = i.address.rfind(':');
  if (colon == std::string::npos || i.address.substr(colon + 1) != std::to_string(port))
    std::abort();
  std::string host = i.address.substr(0, colon);
  unsigned char bytes[16];
  if (address.proto == AVAHI_PROTO_INET) {
    if (i.rank != 0 || inet_pton(AF_INET, host.c_str(), bytes) != 1 ||
        std::memcmp(bytes, &address.data.ipv4.address, 4) != 0)
      std::abort();
    return;
  }
  if (!host.starts_with('[') || !host.ends_with(']')) std::abort();
  host = host.substr(1, host.size() - 2);
  auto percent = host.find('%');
  if ((percent != std::string::npos) != (i.rank == 2) || (i.rank != 1 && i.rank != 2)) std::abort();
  if (inet_pton(AF_INET6, host.substr(0, percent).c_str(), bytes) != 1 ||
      std::memcmp(bytes, address.data.ipv6.address, 16) != 0)
    std::abort();
}

bool same(const mdns::MdnsAnswer& a, const mdns::MdnsAnswer& b) {
  if (a.instance.has_value() != b.instance.has_value()) return false;
  if (!a.instance) return a.ignored_because == b.ignored_because;
  return a.instance->app == b.instance->app && a.instance->ns == b.instance->ns &&
         a.instance->address == b.instance->address && a.instance->rank == b.instance->rank;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHead = 1 + 16 + 2 + 4;
  if (size < kHead) return 0;
  AvahiAddress address{};
  address.proto = data[0] % 4 == 0   ? AVAHI_PROTO_INET
                  : data[0] % 4 != 3 ? AVAHI_PROTO_INET6
                                     : static_cast<AvahiProtocol>(data[0]);
  std::memcpy(address.data.data, data + 1, 16);
  const uint16_t port = static_cast<uint16_t>(data[17] << 8 | data[18]);
  int32_t iface;
  std::memcpy(&iface, data + 19, sizeof iface);

  AvahiStringList* txt = nullptr;
  if (avahi_string_list_parse(data + kHead, size - kHead, &txt) != 0) return 0;
  auto answer = mdns::describe_instance(txt, address, port, iface);
  check(answer, address, port);

  std::vector<uint8_t> again(size - kHead + 1);
  size_t written = avahi_string_list_serialize(txt, again.data(), again.size());
  AvahiStringList* back = nullptr;
  if (avahi_string_list_parse(again.data(), written, &back) != 0) std::abort();
  if (!same(answer, mdns::describe_instance(back, address, port, iface))) std::abort();
  avahi_string_list_free(back);
  avahi_string_list_free(txt);
  return 0;
}
