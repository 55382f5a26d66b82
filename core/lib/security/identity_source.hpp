// Where a sidecar's workload certificate comes from: the local CA (zero configuration), the CA
// service (`skiff ca serve`, across machines) or files that other infrastructure writes
// (cert-manager, SPIRE's helper, Vault agent). The identity keeper asks its source for a set,
// checks it and installs it; a source that fails leaves the installed set in use.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "common/result.hpp"

namespace skiff {

struct Credentials {
  std::string chain_pem;   // leaf first, then intermediates
  std::string key_pem;     // the leaf's private key
  std::string bundle_pem;  // the roots peers are verified against (old and new during a rotation)
};

class IdentitySource {
 public:
  virtual ~IdentitySource() = default;
  // A set for `identity` (a SPIFFE ID) that lives about `lifetime`. Runs on the keeper's own
  // thread, so it may read files and wait on the network.
  virtual Result<Credentials> fetch(const std::string& identity, std::chrono::seconds lifetime) = 0;
  // Files written by others are not renewed but watched: the keeper fetches them every second and
  // installs a set that changed.
  virtual bool watched() const { return false; }
  // For logs: where the certificates come from.
  virtual std::string describe() const = 0;
};

std::unique_ptr<IdentitySource> local_ca_source(std::filesystem::path ca_dir,
                                                std::string trust_domain);
std::unique_ptr<IdentitySource> file_source(std::filesystem::path cert_file,
                                            std::filesystem::path key_file,
                                            std::filesystem::path bundle_file);
// `address` is host:port of `skiff ca serve`; its certificate must chain to a root in
// `bundle_file` and name spiffe://<trust-domain>/skiff-ca.
std::unique_ptr<IdentitySource> ca_service_source(std::string address,
                                                  std::filesystem::path bundle_file,
                                                  std::string join_token, std::string trust_domain);

// The text of a file, or an error naming it.
Result<std::string> read_text_file(const std::filesystem::path& path);

// Writes `text` owner-only (0600) to a temporary file and renames it into place: a reader sees
// the old file or the new one, never half of it.
Status write_private_file(const std::filesystem::path& path, const std::string& text);

}  // namespace skiff
