// What resolver-etcd reads from etcd: the keys of a Range answer and the events of a Watch answer
// under the instance prefix, turned into addresses by app. Pure (no channel, no host calls), so
// that tests/fuzz/etcd_answer_fuzz.cc can feed it any answer a broken or hostile server might send.
#ifndef SKIFF_RESOLVER_ETCD_ANSWER_HPP
#define SKIFF_RESOLVER_ETCD_ANSWER_HPP

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "etcd_rpc.pb.h"
#include "instance_cache.hpp"

namespace skiff::etcd {

struct InstanceKey {
  std::string cache_key;  // InstanceCache::key(namespace, app)
  std::string address;    // "host:port" as the sidecar registered it
};

// "<prefix><namespace>/<app>/<host>:<port>" → its cache key and address. nullopt for any other
// key: one outside the prefix, a namespace or app that is empty or holds control characters (they
// would alias another app's cache key), an address without a host or a port in 1-65535.
std::optional<InstanceKey> parse_instance_key(std::string_view prefix, std::string_view key);

// Every instance a Range over the prefix holds, each app's addresses sorted.
skiff::plugins::InstanceCache::Table table_from_range(std::string_view prefix,
                                                      const etcdserverpb::RangeResponse& res);

// Applies a Watch answer's events in order to `known` (apps left without instances are dropped,
// each app's addresses stay sorted); returns the addresses written again (PUT), which announce
// their instance alive.
std::vector<std::string> apply_watch_events(std::string_view prefix,
                                            const etcdserverpb::WatchResponse& res,
                                            skiff::plugins::InstanceCache::Table& known);

}  // namespace skiff::etcd

#endif  // SKIFF_RESOLVER_ETCD_ANSWER_HPP
