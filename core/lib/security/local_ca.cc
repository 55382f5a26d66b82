#include "security/local_ca.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "security/identity_source.hpp"

namespace skiff {
namespace {

namespace fs = std::filesystem;

constexpr auto kRootLifetime = std::chrono::hours(24 * 365);

}  // namespace

fs::path default_ca_dir() {
  if (const char* d = std::getenv("STATE_DIRECTORY"); d && *d) {  // systemd StateDirectory=
    std::string first(d);
    return fs::path(first.substr(0, first.find(':'))) / "ca";
  }
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return fs::path(x) / "skiff" / "ca";
  if (const char* h = std::getenv("HOME"); h && *h)
    return fs::path(h) / ".local" / "state" / "skiff" / "ca";
  return "/var/lib/skiff/ca";
}

Result<CaMaterial> load_or_create_local_ca(const fs::path& dir, std::string_view trust_domain) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return make_error(SKIFF_ERR_INTERNAL, "cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  const fs::path lock_path = dir / ".lock";
  int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) return make_error(SKIFF_ERR_INTERNAL, "cannot open " + lock_path.string());
  ::flock(lock, LOCK_EX);
  Result<CaMaterial> out = make_error(SKIFF_ERR_INTERNAL, "");
  auto cert = read_text_file(dir / "ca.crt");
  auto key = read_text_file(dir / "ca.key");
  if (cert && key) {
    out = CaMaterial{*cert, *key};
  } else {
    auto made = make_root_ca(trust_domain, kRootLifetime);
    if (made) {
      auto st = write_private_file(dir / "ca.key", made->key_pem);
      if (st) st = write_private_file(dir / "ca.crt", made->cert_pem);
      out = st ? Result<CaMaterial>(std::move(*made)) : Result<CaMaterial>(st.error());
    } else {
      out = made.error();
    }
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
  return out;
}

}  // namespace skiff
