#include "security/identity_keeper.hpp"

#include <spdlog/spdlog.h>

#include <random>

#include "security/certificates.hpp"
#include "security/spiffe_id.hpp"

namespace skiff {
namespace {

constexpr auto kWatchInterval = std::chrono::seconds(1);

}  // namespace

IdentityKeeper::IdentityKeeper(IdentityConfig config)
    : config_(std::move(config)),
      identity_(spiffe_uri(config_.trust_domain, config_.app_namespace,
                           config_.app_id.empty() ? kAnonymousApp : config_.app_id)),
      tls_(std::make_shared<WorkloadTls>(config_.trust_domain)) {}

Result<std::unique_ptr<IdentityKeeper>> IdentityKeeper::start(IdentityConfig config) {
  std::unique_ptr<IdentityKeeper> keeper(new IdentityKeeper(std::move(config)));
  auto renew_at = keeper->renew();
  if (!renew_at)
    return make_error(renew_at.error().code,
                      keeper->config_.source->describe() + ": " + renew_at.error().message);
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

Result<IdentityKeeper::Clock::time_point> IdentityKeeper::renew() {
  auto& source = *config_.source;
  auto creds = source.fetch(identity_, config_.lifetime);
  if (!creds) return creds.error();
  std::string text = creds->chain_pem + creds->key_pem + creds->bundle_pem;
  if (source.watched() && text == installed_) return Clock::now() + kWatchInterval;
  // Whatever the source, nothing is installed that peers would refuse: the chain must verify
  // against the bundle and name this sidecar. A half-written set (a new certificate beside the
  // old key) fails here or in install, and the old set stays.
  auto uri = verify_chain(creds->chain_pem, creds->bundle_pem);
  if (!uri) return uri.error();
  if (*uri != identity_)
    return make_error(SKIFF_ERR_INVALID_ARGUMENT, "the certificate is for " + *uri +
                                                      ", not for this sidecar (" + identity_ + ")");
  auto validity = certificate_validity(creds->chain_pem);
  if (!validity) return validity.error();
  const auto not_after = validity->second;
  Clock::time_point renew_at;
  if (source.watched()) {
    renew_at = Clock::now() + kWatchInterval;
  } else {
    // About half the life, with up to a tenth of jitter either way: sidecars started together do
    // not all renew at once. Never sooner than a second from now: a certificate cut short by a CA
    // near its own end would otherwise be renewed in a tight loop.
    thread_local std::mt19937_64 rng(std::random_device{}());
    std::uniform_real_distribution<double> jitter(0.4, 0.6);
    const auto life = not_after - Clock::now();
    renew_at = Clock::now() + std::max<Clock::duration>(
                                  std::chrono::duration_cast<Clock::duration>(life * jitter(rng)),
                                  std::chrono::seconds(1));
  }
  auto installed = tls_->install(creds->chain_pem, creds->key_pem, creds->bundle_pem, identity_,
                                 not_after, source.watched() ? Clock::time_point{} : renew_at);
  if (!installed) return installed.error();
  const bool first = installed_.empty();
  installed_ = std::move(text);
  if (config_.on_installed) {
    if (auto handed = config_.on_installed(*creds); !handed) {
      if (first) return handed.error();
      spdlog::warn("{}: the transport keeps its previous certificate: {}", identity_,
                   handed.error().message);
    }
  }
  return renew_at;
}

void IdentityKeeper::run(Clock::time_point renew_at) {
  // Retries come sooner than the certificate's end: a quarter of its life at most.
  const auto max_backoff = std::clamp<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.lifetime) / 4,
      std::chrono::seconds(1), std::chrono::seconds(60));
  auto backoff = std::chrono::milliseconds(500);
  std::string last_error;
  std::unique_lock lock(mu_);
  for (;;) {
    if (wake_.wait_until(lock, renew_at, [this] { return stopping_; })) return;
    lock.unlock();
    const auto before = installed_;
    auto next = renew();
    const bool changed = installed_ != before;
    lock.lock();
    if (next) {
      renew_at = *next;
      backoff = std::chrono::milliseconds(500);
      last_error.clear();
      if (changed) {
        ++renewals_;
        spdlog::info("workload certificate of {} {}", identity_,
                     config_.source->watched() ? "reloaded" : "renewed");
      }
    } else if (config_.source->watched()) {
      // Files are looked at every second; one line per new problem, not one a second.
      if (next.error().message != last_error)
        spdlog::error("{}: not loaded, the installed certificate stays in use: {}",
                      config_.source->describe(), next.error().message);
      last_error = next.error().message;
      renew_at = Clock::now() + kWatchInterval;
    } else {
      // The old certificate stays in use until it expires; try again soon.
      spdlog::warn("renewing the workload certificate from {} failed (retrying in {}ms): {}",
                   config_.source->describe(), backoff.count(), next.error().message);
      renew_at = Clock::now() + backoff;
      backoff = std::min(backoff * 2, max_backoff);
    }
  }
}

}  // namespace skiff
