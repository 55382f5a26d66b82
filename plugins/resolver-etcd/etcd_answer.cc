// Decoding etcd answers for resolver-etcd. Only keys are read: a sidecar's address is its key's
// last part, and the JSON value beside it is informational. etcd returns keys within the range it
// was asked for, but nothing here relies on that.
#include "etcd_answer.hpp"

#include <algorithm>
#include <charconv>

namespace skiff::etcd {

namespace {

bool is_name(std::string_view s) {
  return !s.empty() && std::none_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

// "host:port" with a port in 1-65535; an IPv6 host may be bare ("::1:50002") as registered.
bool is_address(std::string_view address) {
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || !is_name(address.substr(0, colon)))
    return false;
  std::string_view port = address.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc() && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

}  // namespace

std::optional<InstanceKey> parse_instance_key(std::string_view prefix, std::string_view key) {
  if (!key.starts_with(prefix)) return std::nullopt;
  std::string_view rest = key.substr(prefix.size());
  auto slash1 = rest.find('/');
  if (slash1 == std::string_view::npos) return std::nullopt;
  auto slash2 = rest.find('/', slash1 + 1);
  if (slash2 == std::string_view::npos) return std::nullopt;
  std::string_view ns = rest.substr(0, slash1), app = rest.substr(slash1 + 1, slash2 - slash1 - 1),
                   address = rest.substr(slash2 + 1);
  if (!is_name(ns) || !is_name(app) || !is_address(address)) return std::nullopt;
  return InstanceKey{skiff::plugins::InstanceCache::key(ns, app), std::string(address)};
}

skiff::plugins::InstanceCache::Table table_from_range(std::string_view prefix,
                                                      const etcdserverpb::RangeResponse& res) {
  skiff::plugins::InstanceCache::Table table;
  for (const auto& kv : res.kvs())
    if (auto parsed = parse_instance_key(prefix, kv.key()))
      table[parsed->cache_key].push_back(std::move(parsed->address));
  for (auto& entry : table) {
    auto& list = entry.second;
    std::sort(list.begin(), list.end());
    // A server that repeats a key must not double an instance's share of the calls.
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
  return table;
}

std::vector<std::string> apply_watch_events(std::string_view prefix,
                                            const etcdserverpb::WatchResponse& res,
                                            skiff::plugins::InstanceCache::Table& known) {
  std::vector<std::string> written;
  for (const auto& ev : res.events()) {
    auto parsed = parse_instance_key(prefix, ev.kv().key());
    if (!parsed) continue;
    auto& list = known[parsed->cache_key];
    std::erase(list, parsed->address);
    if (ev.type() == etcdserverpb::Event::PUT) {
      list.push_back(parsed->address);
      written.push_back(std::move(parsed->address));
    }
  }
  std::erase_if(known, [](const auto& entry) { return entry.second.empty(); });
  for (auto& entry : known) std::sort(entry.second.begin(), entry.second.end());
  return written;
}

}  // namespace skiff::etcd
