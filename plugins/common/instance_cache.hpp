// The instance cache every bundled resolver shares: the live addresses of each (namespace, app),
// answered without blocking, rotated per app so calls spread evenly, with instances reported
// unreachable held back, and first lookups of an app not yet seen waiting briefly for it.
//
// Writers are the resolver's own threads (a watch, a browse, a refresh); readers are host threads
// calling resolve(). Readers copy a pointer to an immutable snapshot under a shared lock, so a
// lookup never waits on a writer's work.
#ifndef SKIFF_PLUGINS_COMMON_INSTANCE_CACHE_HPP
#define SKIFF_PLUGINS_COMMON_INSTANCE_CACHE_HPP

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/plugin.hpp"

namespace skiff::plugins {

class InstanceCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Addresses = std::vector<std::string>;
  // Addresses of every app, by key(namespace, app).
  using Table = std::map<std::string, Addresses, std::less<>>;

  // `hold_back` is how long an address reported unreachable stays out of answers unless the
  // backend confirms it live again (confirm()) before then.
  InstanceCache(const skiff_host_api_t* host, std::chrono::milliseconds hold_back)
      : host_(host), hold_back_(hold_back) {}

  ~InstanceCache() {
    // The host destroys a resolver only after every completion fired; waiters still listed here
    // have completed through their timer.
    std::lock_guard lock(waiters_mu_);
    for (auto& [key, list] : waiters_)
      for (auto& w : list) w->stop_timer(host_, true);
  }

  InstanceCache(const InstanceCache&) = delete;
  InstanceCache& operator=(const InstanceCache&) = delete;

  static std::string key(std::string_view ns, std::string_view app) {
    std::string k;
    k.reserve(ns.size() + app.size() + 1);
    k.append(ns).push_back('\n');
    k.append(app);
    return k;
  }

  // Answers from the cache: true when the app has live instances (done has been called).
  bool try_complete(std::string_view ns, std::string_view app, skiff_resolve_done_fn done,
                    void* ud) const {
    auto snap = snapshot();
    thread_local std::string k;
    k.assign(ns).push_back('\n');
    k.append(app);
    auto it = snap->find(k);
    if (it == snap->end() || it->second.addresses.empty()) return false;
    complete(it->second, done, ud);
    return true;
  }

  // Answers at once when the app is known; otherwise waits up to `wait` for a writer to add it,
  // then answers SKIFF_ERR_NOT_FOUND with `why_missing`.
  void resolve_or_wait(std::string_view ns, std::string_view app, std::chrono::milliseconds wait,
                       std::string why_missing, skiff_resolve_done_fn done, void* ud) {
    if (try_complete(ns, app, done, ud)) return;
    if (wait.count() <= 0) return done(ud, SKIFF_ERR_NOT_FOUND, nullptr, 0, sdk::str(why_missing));
    auto w = std::make_shared<Waiter>(done, ud, std::move(why_missing));
    std::string k = key(ns, app);
    {
      std::lock_guard lock(waiters_mu_);
      // Re-check under the lock: a writer that published in between has already run its wake-up.
      auto snap = snapshot();
      if (auto it = snap->find(k); it != snap->end() && !it->second.addresses.empty())
        return complete(it->second, done, ud);
      auto& list = waiters_[k];
      std::erase_if(list, [](const auto& x) { return x->fired.load(); });
      list.push_back(w);
      w->start_timer(host_, static_cast<uint64_t>(wait.count()));
    }
  }

  // Replaces the instances of one app (an empty list removes it).
  void set(std::string_view ns, std::string_view app, Addresses addresses) {
    std::string k = key(ns, app);
    std::unique_lock write(write_mu_);
    auto next = std::make_shared<Snapshot>(*snapshot());
    if (addresses.empty()) {
      next->erase(k);
    } else {
      auto& entry = (*next)[k];
      entry.addresses = filter(std::move(addresses));
      if (!entry.rotation) entry.rotation = std::make_shared<std::atomic<uint64_t>>(0);
    }
    publish(std::move(next));
    write.unlock();
    wake(k);
  }

  // Replaces every app at once (a full refresh from the backend).
  void set_all(Table table) {
    std::unique_lock write(write_mu_);
    auto prev = snapshot();
    auto next = std::make_shared<Snapshot>();
    for (auto& [k, addresses] : table) {
      if (addresses.empty()) continue;
      auto& entry = (*next)[k];
      entry.addresses = filter(std::move(addresses));
      auto old = prev->find(k);
      entry.rotation =
          old != prev->end() ? old->second.rotation : std::make_shared<std::atomic<uint64_t>>(0);
    }
    publish(next);
    write.unlock();
    for (auto& [k, entry] : *next) wake(k);
  }

  // The host could not reach `address`: stop handing it out at once.
  void report_unavailable(std::string_view ns, std::string_view app, std::string_view address) {
    std::string k = key(ns, app);
    std::unique_lock write(write_mu_);
    {
      std::lock_guard lock(suspects_mu_);
      suspects_[std::string(address)] = Clock::now();
    }
    auto snap = snapshot();
    auto it = snap->find(k);
    // The last instance stays: trying it again beats answering "not found".
    if (it == snap->end() || it->second.addresses.size() <= 1) return;
    auto next = std::make_shared<Snapshot>(*snap);
    std::erase((*next)[k].addresses, std::string(address));
    publish(std::move(next));
  }

  // The backend saw `address` announce itself after it was reported: it may be handed out again
  // at the next set().
  void confirm(std::string_view address) {
    std::lock_guard lock(suspects_mu_);
    suspects_.erase(std::string(address));
  }

 private:
  struct Entry {
    Addresses addresses;
    std::shared_ptr<std::atomic<uint64_t>> rotation;  // survives updates of the same app
  };
  using Snapshot = std::map<std::string, Entry, std::less<>>;

  struct Waiter : std::enable_shared_from_this<Waiter> {
    Waiter(skiff_resolve_done_fn d, void* u, std::string why)
        : done(d), ud(u), why_missing(std::move(why)) {}
    skiff_resolve_done_fn done;
    void* ud;
    std::string why_missing;
    std::atomic<bool> fired{false};
    skiff_timer_id_t timer = 0;
    std::shared_ptr<Waiter>* timer_ref = nullptr;  // the timer's own reference

    bool claim() { return !fired.exchange(true); }
    // The timer holds one reference and touches only the waiter, never the cache, so it may fire
    // after the cache is gone.
    void start_timer(const skiff_host_api_t* host, uint64_t ms) {
      timer_ref = new std::shared_ptr<Waiter>(shared_from_this());
      timer = host->timer_start(host->host, ms, &Waiter::on_timer, timer_ref);
    }
    // Stops the timer if it has not started; completes with `status` if nobody has yet.
    void stop_timer(const skiff_host_api_t* host, bool complete_cancelled) {
      if (!timer || host->timer_cancel(host->host, timer) != 1) return;
      auto* ref = timer_ref;
      timer = 0;
      timer_ref = nullptr;
      if (complete_cancelled && claim())
        done(ud, SKIFF_ERR_CANCELLED, nullptr, 0, sdk::str("resolver stopped"));
      delete ref;
    }
    static void on_timer(void* p) {
      auto* ref = static_cast<std::shared_ptr<Waiter>*>(p);
      auto& w = **ref;
      if (w.claim()) w.done(w.ud, SKIFF_ERR_NOT_FOUND, nullptr, 0, sdk::str(w.why_missing));
      delete ref;
    }
  };

  void complete(const Entry& entry, skiff_resolve_done_fn done, void* ud) const {
    const auto& a = entry.addresses;
    size_t start = entry.rotation->fetch_add(1, std::memory_order_relaxed) % a.size();
    skiff_str_t views[16];
    std::vector<skiff_str_t> many;
    skiff_str_t* out = views;
    if (a.size() > std::size(views)) {
      many.resize(a.size());
      out = many.data();
    }
    for (size_t i = 0; i < a.size(); ++i) out[i] = sdk::str(a[(start + i) % a.size()]);
    done(ud, SKIFF_OK, out, a.size(), sdk::str(""));
  }

  // Drops addresses reported unreachable within hold_back_, unless that would leave none.
  Addresses filter(Addresses addresses) {
    std::lock_guard lock(suspects_mu_);
    if (suspects_.empty()) return addresses;
    auto now = Clock::now();
    std::erase_if(suspects_, [&](const auto& s) { return now - s.second > hold_back_; });
    Addresses kept;
    for (auto& a : addresses)
      if (!suspects_.contains(a)) kept.push_back(a);
    return kept.empty() ? addresses : kept;
  }

  void wake(const std::string& k) {
    std::vector<std::shared_ptr<Waiter>> ready;
    {
      std::lock_guard lock(waiters_mu_);
      auto it = waiters_.find(k);
      if (it == waiters_.end()) return;
      ready.swap(it->second);
      waiters_.erase(it);
    }
    auto snap = snapshot();
    auto it = snap->find(k);
    for (auto& w : ready) {
      if (!w->claim()) continue;
      if (it != snap->end() && !it->second.addresses.empty())
        complete(it->second, w->done, w->ud);
      else
        w->done(w->ud, SKIFF_ERR_NOT_FOUND, nullptr, 0, sdk::str(w->why_missing));
      w->stop_timer(host_, false);
    }
  }

  std::shared_ptr<const Snapshot> snapshot() const {
    std::shared_lock lock(snapshot_mu_);
    return snapshot_;
  }
  void publish(std::shared_ptr<const Snapshot> next) {
    std::unique_lock lock(snapshot_mu_);
    snapshot_.swap(next);
  }

  const skiff_host_api_t* host_;
  const std::chrono::milliseconds hold_back_;
  std::mutex write_mu_;  // serialises writers' read-modify-write of the snapshot
  mutable std::shared_mutex snapshot_mu_;
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<const Snapshot>();
  std::mutex suspects_mu_;
  std::map<std::string, Clock::time_point, std::less<>> suspects_;
  std::mutex waiters_mu_;
  std::map<std::string, std::vector<std::shared_ptr<Waiter>>, std::less<>> waiters_;
};

}  // namespace skiff::plugins

#endif  // SKIFF_PLUGINS_COMMON_INSTANCE_CACHE_HPP
