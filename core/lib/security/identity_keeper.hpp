// Keeps this sidecar's workload certificate: gets the first set from its source at start-up, and
// then renews it at about half its life (with jitter), or, for watched files, installs a set that
// changed. It runs on a thread of its own since sources read files and wait on the network. A
// renewal that fails is retried with backoff while the installed certificate stays in use.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.hpp"
#include "security/identity_source.hpp"
#include "security/workload_tls.hpp"

namespace skiff {

struct IdentityConfig {
  std::string trust_domain;
  std::string app_namespace;
  std::string app_id;  // empty: a sidecar that fronts no app (kAnonymousApp)
  std::chrono::seconds lifetime{24 * 3600};
  std::unique_ptr<IdentitySource> source;
  // Called on the keeper's thread after every set is installed (the first from start(), which
  // fails when it does): hands the set to a transport that runs TLS itself (ABI 1.3). A later
  // failure is logged; the transport keeps the set it had.
  std::function<Status(const Credentials&)> on_installed;
};

class IdentityKeeper {
 public:
  // Installs the first set (an error stops start-up), then starts the renewal thread.
  static Result<std::unique_ptr<IdentityKeeper>> start(IdentityConfig config);
  ~IdentityKeeper();
  IdentityKeeper(const IdentityKeeper&) = delete;
  IdentityKeeper& operator=(const IdentityKeeper&) = delete;

  const std::shared_ptr<WorkloadTls>& tls() const { return tls_; }
  const std::string& identity() const { return identity_; }
  // Sets installed after the first one.
  uint64_t renewals() const;

 private:
  using Clock = std::chrono::system_clock;
  explicit IdentityKeeper(IdentityConfig config);
  // Fetches a set and installs it when it is new; returns when to look again.
  Result<Clock::time_point> renew();
  void run(Clock::time_point renew_at);

  const IdentityConfig config_;
  const std::string identity_;
  std::shared_ptr<WorkloadTls> tls_;
  std::string installed_;  // the installed set's text, so that unchanged files are not reinstalled
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t renewals_ = 0;
  std::thread thread_;
};

}  // namespace skiff
