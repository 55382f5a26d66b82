// The zero-configuration CA: a root for the trust domain kept in a directory only its owner can
// read, made by the first sidecar that needs it. Every sidecar of that user on the machine signs
// its own workload certificate with it (see docs/security.md for what that trusts).
#pragma once

#include <filesystem>
#include <string_view>

#include "common/result.hpp"
#include "security/certificates.hpp"

namespace skiff {

// <state directory>/ca, the state directory being the SQLite resolver's (STATE_DIRECTORY,
// $XDG_STATE_HOME/skiff, ~/.local/state/skiff or /var/lib/skiff).
std::filesystem::path default_ca_dir();

// Reads dir/ca.crt and dir/ca.key, or creates them (under a lock: sidecars starting together
// make one root). ca.crt may hold several roots (a rotation with overlap): the first one signs,
// all of them are trusted.
Result<CaMaterial> load_or_create_local_ca(const std::filesystem::path& dir,
                                           std::string_view trust_domain);

}  // namespace skiff
