// The instance cache shared by the bundled resolvers: rotation per app, eviction of unreachable
// instances, and cold lookups that wait for the backend.
#include "instance_cache.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace {

using skiff::plugins::InstanceCache;
using std::chrono::milliseconds;

// A host whose timers fire only when the test says so.
struct FakeHost {
  struct Timer {
    skiff_task_fn fn;
    void* ud;
  };
  std::map<skiff_timer_id_t, Timer> timers;
  skiff_timer_id_t next = 1;
  skiff_host_api_t api{};

  FakeHost() {
    api.struct_size = sizeof api;
    api.host = this;
    api.timer_start = [](void* h, uint64_t, skiff_task_fn fn, void* ud) {
      auto* self = static_cast<FakeHost*>(h);
      self->timers[self->next] = {fn, ud};
      return self->next++;
    };
    api.timer_cancel = [](void* h, skiff_timer_id_t id) -> int32_t {
      return static_cast<FakeHost*>(h)->timers.erase(id) ? 1 : 0;
    };
  }
  void fire_all() {
    auto pending = std::move(timers);
    timers.clear();
    for (auto& [id, t] : pending) t.fn(t.ud);
  }
};

struct Answer {
  int calls = 0;
  skiff_status_t status = SKIFF_OK;
  std::vector<std::string> addresses;
  std::string message;
};

void record(void* ud, skiff_status_t status, const skiff_str_t* a, size_t n, skiff_str_t msg) {
  auto* out = static_cast<Answer*>(ud);
  ++out->calls;
  out->status = status;
  out->addresses.clear();
  for (size_t i = 0; i < n; ++i) out->addresses.emplace_back(a[i].ptr, a[i].len);
  out->message.assign(msg.ptr ? msg.ptr : "", msg.len);
}

std::string first(InstanceCache& cache, std::string_view ns, std::string_view app) {
  Answer a;
  EXPECT_TRUE(cache.try_complete(ns, app, record, &a));
  return a.addresses.empty() ? "" : a.addresses.front();
}

TEST(InstanceCache, RotatesPerAppSoInterleavedAppsStillSpreadEvenly) {
  FakeHost host;
  InstanceCache cache(&host.api, milliseconds(30000));
  cache.set("default", "cart", {"a:1", "b:1"});
  cache.set("default", "order", {"c:1", "d:1"});
  std::map<std::string, int> seen;
  for (int i = 0; i < 10; ++i) {
    ++seen[first(cache, "default", "cart")];
    ++seen[first(cache, "default", "order")];
  }
  EXPECT_EQ(seen, (std::map<std::string, int>{{"a:1", 5}, {"b:1", 5}, {"c:1", 5}, {"d:1", 5}}));
}

TEST(InstanceCache, AnswersListEveryInstanceStartingFromTheNextOne) {
  FakeHost host;
  InstanceCache cache(&host.api, milliseconds(30000));
  cache.set("ns", "cart", {"a:1", "b:1", "c:1"});
  Answer a;
  ASSERT_TRUE(cache.try_complete("ns", "cart", record, &a));
  EXPECT_EQ(a.addresses, (std::vector<std::string>{"a:1", "b:1", "c:1"}));
  ASSERT_TRUE(cache.try_complete("ns", "cart", record, &a));
  EXPECT_EQ(a.addresses, (std::vector<std::string>{"b:1", "c:1", "a:1"}));
  EXPECT_FALSE(cache.try_complete("other", "cart", record, &a));
}

TEST(InstanceCache, UnreachableInstanceIsEvictedAtOnceAndStaysOutUntilConfirmed) {
  FakeHost host;
  InstanceCache cache(&host.api, milliseconds(30000));
  cache.set("ns", "cart", {"a:1", "b:1"});
  cache.report_unavailable("ns", "cart", "a:1");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(first(cache, "ns", "cart"), "b:1");
  cache.set("ns", "cart", {"a:1", "b:1"});  // a refresh that still lists it
  for (int i = 0; i < 4; ++i) EXPECT_EQ(first(cache, "ns", "cart"), "b:1");
  cache.confirm("a:1");  // the backend saw it announce itself again
  cache.set("ns", "cart", {"a:1", "b:1"});
  std::map<std::string, int> seen;
  for (int i = 0; i < 4; ++i) ++seen[first(cache, "ns", "cart")];
  EXPECT_EQ(seen.size(), 2u);
}

TEST(InstanceCache, TheLastInstanceIsKeptRatherThanAnsweringNotFound) {
  FakeHost host;
  InstanceCache cache(&host.api, milliseconds(30000));
  cache.set("ns", "cart", {"a:1"});
  cache.report_unavailable("ns", "cart", "a:1");
  EXPECT_EQ(first(cache, "ns", "cart"), "a:1");
}

TEST(InstanceCache, ColdLookupWaitsForTheBackendThenAnswers) {
  FakeHost host;
  InstanceCache cache(&host.api, milliseconds(30000));
  Answer a;
  cache.resolve_or_wait("ns", "cart", milliseconds(1000), "not found", record, &a);
  EXPECT_EQ(a.calls, 0);
  cache.set("ns", "cart", {"a:1"});
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.status, SKIFF_OK);
  EXPECT_EQ(a.addresses, std::vector<std::string>{"a:1"});
  EXPECT_TRUE(host.timers.empty());  // the wait's timer was cancelled
}

TEST(InstanceCache, ColdLookupGivesUpWithNotFoundWhenTheWaitEnds) {
  FakeHost host;
  InstanceCache cache(&host.api, milliseconds(30000));
  Answer a;
  cache.resolve_or_wait("ns", "cart", milliseconds(1000), "no cart", record, &a);
  host.fire_all();
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.status, SKIFF_ERR_NOT_FOUND);
  EXPECT_EQ(a.message, "no cart");
  cache.set("ns", "cart", {"a:1"});  // too late: completes nothing twice
  EXPECT_EQ(a.calls, 1);
}

TEST(InstanceCache, SetAllReplacesEveryAppAndKeepsRotation) {
  FakeHost host;
  InstanceCache cache(&host.api, milliseconds(30000));
  cache.set("ns", "cart", {"a:1", "b:1"});
  EXPECT_EQ(first(cache, "ns", "cart"), "a:1");
  InstanceCache::Table t;
  t[InstanceCache::key("ns", "cart")] = {"a:1", "b:1"};
  cache.set_all(t);
  EXPECT_EQ(first(cache, "ns", "cart"), "b:1");  // rotation carried over the refresh
  cache.set_all({});
  Answer a;
  EXPECT_FALSE(cache.try_complete("ns", "cart", record, &a));
}

}  // namespace
