// The CA service's directory, made by `skiff ca init` and only ever read by `skiff ca serve`:
//
//   root.crt  root.key     the root of the trust domain (the key may move offline after init)
//   issuer.crt issuer.key  the issuing CA the service signs with, signed by the root
//   bundle.crt             the roots sidecars trust; old and new ones during a root rotation
//   tokens.db              join tokens (SQLite, hashed)
//
// The directory and every key are owner-only: sidecars never read them in this mode.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "common/result.hpp"
#include "security/certificates.hpp"

namespace skiff {

struct CaDirectory {
  std::filesystem::path dir;
  std::string trust_domain;
  CaMaterial issuer;       // issuer.crt (its first certificate signs) and issuer.key
  std::string bundle_pem;  // bundle.crt

  std::filesystem::path tokens_file() const { return dir / "tokens.db"; }
};

// Makes the directory with a new root and issuing CA; refuses a directory that already has a root.
Status init_ca_directory(const std::filesystem::path& dir, const std::string& trust_domain,
                         std::chrono::seconds root_lifetime, std::chrono::seconds issuer_lifetime);

// Reads the issuing CA and the bundle, checking that the key belongs to the certificate and the
// issuer chains to the bundle: a half-done rotation is an error, not a CA that signs garbage.
Result<CaDirectory> load_ca_directory(const std::filesystem::path& dir);

}  // namespace skiff
