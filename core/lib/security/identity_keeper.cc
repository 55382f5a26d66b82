#include "security/identity_keeper.hpp"

#include <spdlog/spdlog.h>

#include <random>

#include "security/certificates.hpp"
#include "security/local_ca.hpp"
#include "security/spiffe_id.hpp"

namespace skiff {

using Clock = std::chrono::system_clock;

IdentityKeeper::IdentityKeeper(IdentityConfig config)
    : config_(std::move(config)),
      identity_(spiffe_uri(config_.trust_domain, config_.app_namespace,
                           config_.app_id.empty() ? kAnonymousApp : config_.app_id)),
      tls_(std::make_shared<WorkloadTls>(config_.trust_domain)) {}

Result<std::unique_ptr<IdentityKeeper>> IdentityKeeper::start(IdentityConfig config) {
  std::unique_ptr<IdentityKeeper> keeper(new IdentityKeeper(std::move(config)));
  auto renew_at = keeper->renew();
  if (!renew_at) return renew_at.error();
  keeper->thread_ = std::thread([k = keeper.get(), at = *renew_at] { k->run(at); });
  return keeper;
}

IdentityKeeper::~IdentityKeeper() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t IdentityKeeper::renewals() const {
  std::lock_guard lock(mu_);
  return renewals_;
}

Result<Clock::time_point> IdentityKeeper::renew() {
  auto ca = load_or_create_local_ca(config_.ca_dir, config_.trust_domain);
  if (!ca) return ca.error();
  auto cert = issue_workload_certificate(*ca, identity_, config_.lifetime);
  if (!cert) return cert.error();
  // About half the life, with up to a tenth of jitter either way: sidecars started together do
  // not all renew at once.
  const auto life = cert->not_after - Clock::now();
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.4, 0.6);
  // Never sooner than a second from now: a certificate cut short by a CA near its own end would
  // otherwise be renewed in a tight loop.
  const auto renew_at =
      Clock::now() +
      std::max<Clock::duration>(std::chrono::duration_cast<Clock::duration>(life * jitter(rng)),
                                std::chrono::seconds(1));
  if (auto ca_life = certificate_validity(ca->cert_pem);
      ca_life && ca_life->second - Clock::now() < std::chrono::hours(24 * 30))
    spdlog::warn(
        "the CA certificate in {} expires in less than 30 days; put a new root first "
        "in ca.crt (and its key in ca.key), see docs/security.md",
        config_.ca_dir.string());
  auto installed = tls_->install(cert->chain_pem, cert->key_pem, ca->cert_pem, identity_,
                                 cert->not_after, renew_at);
  if (!installed) return installed.error();
  return renew_at;
}

void IdentityKeeper::run(Clock::time_point renew_at) {
  auto backoff = std::chrono::milliseconds(500);
  std::unique_lock lock(mu_);
  for (;;) {
    if (wake_.wait_until(lock, renew_at, [this] { return stopping_; })) return;
    lock.unlock();
    auto next = renew();
    lock.lock();
    if (next) {
      ++renewals_;
      renew_at = *next;
      backoff = std::chrono::milliseconds(500);
      spdlog::info("workload certificate of {} renewed", identity_);
    } else {
      // The old certificate stays in use until it expires; try again soon.
      spdlog::warn("renewing the workload certificate failed (retrying in {}ms): {}",
                   backoff.count(), next.error().message);
      renew_at = Clock::now() + backoff;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(60000));
    }
  }
}

}  // namespace skiff
