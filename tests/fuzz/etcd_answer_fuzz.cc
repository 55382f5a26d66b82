// resolver-etcd's reading of etcd answers: a RangeResponse (the load) followed by a WatchResponse
// (the changes since), as protobuf bytes. Every address kept must be an instance key's last part
// (host:port, a port in 1-65535) whose key still exists: the table after the watch must equal a
// plain model of keys present, and each app's addresses stay sorted and distinct.
//
// Input: a 2-byte length, that many bytes of RangeResponse, then the WatchResponse.
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "etcd_answer.hpp"

namespace pb = etcdserverpb;
using skiff::plugins::InstanceCache;

namespace {

constexpr std::string_view kPrefix = "/skiff/instances/";

// The etcd key an entry of the table came from.
std::string key_of(const std::string& cache_key, const std::string& address) {
  auto newline = cache_key.find('\n');
  if (newline == std::string::npos) std::abort();
  return std::string(kPrefix) + cache_key.substr(0, newline) + "/" + cache_key.substr(newline + 1) +
         "/" + address;
}

std::set<std::string> keys_of(const InstanceCache::Table& table) {
  std::set<std::string> keys;
  for (const auto& entry : table) {
    const auto& list = entry.second;
    if (list.empty() || !std::is_sorted(list.begin(), list.end()) ||
        std::adjacent_find(list.begin(), list.end()) != list.end())
      std::abort();
    for (const auto& address : list) {
      auto key = key_of(entry.first, address);
      auto parsed = skiff::etcd::parse_instance_key(kPrefix, key);
      if (!parsed || parsed->cache_key != entry.first || parsed->address != address) std::abort();
      keys.insert(std::move(key));
    }
  }
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    // Invalid UTF-8 in a string field is logged on every such input; the result is what counts.
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  if (size < 2) return 0;
  size_t range_size = std::min<size_t>(size - 2, data[0] << 8 | data[1]);
  const char* bytes = reinterpret_cast<const char*>(data) + 2;
  pb::RangeResponse range;
  pb::WatchResponse watch;
  if (!range.ParseFromArray(bytes, static_cast<int>(range_size)) ||
      !watch.ParseFromArray(bytes + range_size, static_cast<int>(size - 2 - range_size)))
    return 0;

  auto known = skiff::etcd::table_from_range(kPrefix, range);
  std::set<std::string> model;
  for (const auto& kv : range.kvs())
    if (skiff::etcd::parse_instance_key(kPrefix, kv.key())) model.insert(kv.key());
  if (keys_of(known) != model) std::abort();

  auto written = skiff::etcd::apply_watch_events(kPrefix, watch, known);
  size_t puts = 0;
  for (const auto& ev : watch.events()) {
    if (!skiff::etcd::parse_instance_key(kPrefix, ev.kv().key())) continue;
    if (ev.type() == pb::Event::PUT) {
      model.insert(ev.kv().key());
      ++puts;
    } else {
      model.erase(ev.kv().key());
    }
  }
  if (written.size() != puts || keys_of(known) != model) std::abort();
  return 0;
}
