// Keeps this sidecar's workload certificate: issues it from the local CA at start-up and renews
// it at about half its life (with jitter), on a thread of its own since it reads files. A renewal
// that fails is retried with backoff while the old certificate stays in use.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.hpp"
#include "security/workload_tls.hpp"

namespace skiff {

struct IdentityConfig {
  std::string trust_domain;
  std::string app_namespace;
  std::string app_id;  // empty: a sidecar that fronts no app (kAnonymousApp)
  std::filesystem::path ca_dir;
  std::chrono::seconds lifetime{24 * 3600};
};

class IdentityKeeper {
 public:
  // Issues the first certificate (an error stops start-up), then starts the renewal thread.
  static Result<std::unique_ptr<IdentityKeeper>> start(IdentityConfig config);
  ~IdentityKeeper();
  IdentityKeeper(const IdentityKeeper&) = delete;
  IdentityKeeper& operator=(const IdentityKeeper&) = delete;

  const std::shared_ptr<WorkloadTls>& tls() const { return tls_; }
  const std::string& identity() const { return identity_; }
  uint64_t renewals() const;

 private:
  explicit IdentityKeeper(IdentityConfig config);
  // Issues and installs a certificate; returns when to renew it.
  Result<std::chrono::system_clock::time_point> renew();
  void run(std::chrono::system_clock::time_point renew_at);

  const IdentityConfig config_;
  const std::string identity_;
  std::shared_ptr<WorkloadTls> tls_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t renewals_ = 0;
  std::thread thread_;
};

}  // namespace skiff
