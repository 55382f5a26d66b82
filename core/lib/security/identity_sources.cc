// The local-CA and file sources; the CA service's client is in ca_client.cc.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "security/certificates.hpp"
#include "security/identity_source.hpp"
#include "security/local_ca.hpp"

namespace skiff {
namespace {

namespace fs = std::filesystem;

class LocalCaSource : public IdentitySource {
 public:
  LocalCaSource(fs::path dir, std::string trust_domain)
      : dir_(std::move(dir)), trust_domain_(std::move(trust_domain)) {}

  Result<Credentials> fetch(const std::string& identity, std::chrono::seconds lifetime) override {
    // Read at every renewal: a root put first in ca.crt (a rotation) signs from then on.
    auto ca = load_or_create_local_ca(dir_, trust_domain_);
    if (!ca) return ca.error();
    auto cert = issue_workload_certificate(*ca, identity, lifetime);
    if (!cert) return cert.error();
    if (auto ca_life = certificate_validity(ca->cert_pem);
        ca_life && ca_life->second - std::chrono::system_clock::now() < std::chrono::hours(24 * 30))
      spdlog::warn(
          "the CA certificate in {} expires in less than 30 days; put a new root first in ca.crt "
          "(and its key in ca.key), see docs/security.md",
          dir_.string());
    return Credentials{std::move(cert->chain_pem), std::move(cert->key_pem), ca->cert_pem};
  }
  std::string describe() const override { return "the local CA in " + dir_.string(); }

 private:
  const fs::path dir_;
  const std::string trust_domain_;
};

class FileSource : public IdentitySource {
 public:
  FileSource(fs::path cert, fs::path key, fs::path bundle)
      : cert_(std::move(cert)), key_(std::move(key)), bundle_(std::move(bundle)) {}

  Result<Credentials> fetch(const std::string&, std::chrono::seconds) override {
    Credentials c;
    for (auto [path, text] :
         {std::pair{&cert_, &c.chain_pem}, {&key_, &c.key_pem}, {&bundle_, &c.bundle_pem}}) {
      auto read = read_text_file(*path);
      if (!read) return read.error();
      *text = std::move(*read);
    }
    return c;
  }
  bool watched() const override { return true; }
  std::string describe() const override {
    return "the files " + cert_.string() + ", " + key_.string() + " and " + bundle_.string();
  }

 private:
  const fs::path cert_, key_, bundle_;
};

}  // namespace

Result<std::string> read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(SKIFF_ERR_NOT_FOUND, "cannot read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return make_error(SKIFF_ERR_INTERNAL, "cannot read " + path.string());
  return s.str();
}

// Written to a temporary file with owner-only permissions, then renamed into place.
Status write_private_file(const fs::path& p, const std::string& text) {
  fs::path tmp = p;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(SKIFF_ERR_INTERNAL, "cannot write " + tmp.string());
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), p.c_str()) != 0)
    return make_error(SKIFF_ERR_INTERNAL, "cannot write " + p.string());
  return Ok{};
}

std::unique_ptr<IdentitySource> local_ca_source(fs::path ca_dir, std::string trust_domain) {
  return std::make_unique<LocalCaSource>(std::move(ca_dir), std::move(trust_domain));
}

std::unique_ptr<IdentitySource> file_source(fs::path cert_file, fs::path key_file,
                                            fs::path bundle_file) {
  return std::make_unique<FileSource>(std::move(cert_file), std::move(key_file),
                                      std::move(bundle_file));
}

}  // namespace skiff
