#include "ca/ca_directory.hpp"

#include <openssl/pem.h>
#include <sys/stat.h>

#include "security/identity_source.hpp"
#include "security/spiffe_id.hpp"

namespace skiff {
namespace {

namespace fs = std::filesystem;

// As write_private_file, but never over an existing file: init must not replace a CA.
Status write_new(const fs::path& p, const std::string& text) {
  if (fs::exists(p)) return make_error(SKIFF_ERR_ALREADY_EXISTS, p.string() + " exists");
  return write_private_file(p, text);
}

// The trust domain an issuing CA is for: its URI SAN spiffe://<trust domain>.
Result<std::string> trust_domain_of(const std::string& cert_pem) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  auto uri = single_uri_san(cert);
  X509_free(cert);
  if (!uri) return uri.error();
  constexpr std::string_view kScheme = "spiffe://";
  std::string td = uri->starts_with(kScheme) ? uri->substr(kScheme.size()) : "";
  if (!valid_trust_domain(td))
    return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                      "issuer.crt names no trust domain (" + *uri + ")");
  return td;
}

}  // namespace

Status init_ca_directory(const fs::path& dir, const std::string& trust_domain,
                         std::chrono::seconds root_lifetime, std::chrono::seconds issuer_lifetime) {
  if (!valid_trust_domain(trust_domain))
    return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                      "\"" + trust_domain +
                          "\" is not a trust domain (lower-case letters, digits, '.', '-', '_')");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return make_error(SKIFF_ERR_INTERNAL, "cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  if (fs::exists(dir / "root.crt") || fs::exists(dir / "issuer.crt"))
    return make_error(SKIFF_ERR_ALREADY_EXISTS,
                      dir.string() + " already holds a CA; refusing to replace it");
  auto root = make_root_ca(trust_domain, root_lifetime);
  if (!root) return root.error();
  auto issuer = make_issuing_ca(*root, trust_domain, issuer_lifetime);
  if (!issuer) return issuer.error();
  for (auto [name, text] : {std::pair{"root.key", &root->key_pem},
                            {"root.crt", &root->cert_pem},
                            {"issuer.key", &issuer->key_pem},
                            {"issuer.crt", &issuer->cert_pem},
                            {"bundle.crt", &root->cert_pem}})
    if (auto st = write_new(dir / name, *text); !st) return st;
  return Ok{};
}

Result<CaDirectory> load_ca_directory(const fs::path& dir) {
  CaDirectory out;
  out.dir = dir;
  for (auto [name, text] : {std::pair{"issuer.crt", &out.issuer.cert_pem},
                            {"issuer.key", &out.issuer.key_pem},
                            {"bundle.crt", &out.bundle_pem}}) {
    auto read = read_text_file(dir / name);
    if (!read)
      return make_error(read.error().code, read.error().message + " (is " + dir.string() +
                                               " made by `skiff ca init`?)");
    *text = std::move(*read);
  }
  auto td = trust_domain_of(out.issuer.cert_pem);
  if (!td) return td.error();
  out.trust_domain = std::move(*td);
  // A throwaway leaf proves the set: the key matches issuer.crt and the chain reaches a root of
  // the bundle.
  auto probe = issue_workload_certificate(
      out.issuer, spiffe_uri(out.trust_domain, "probe", "probe"), std::chrono::seconds(60));
  if (!probe) return probe.error();
  if (auto ok = verify_chain(probe->chain_pem, out.bundle_pem); !ok)
    return make_error(ok.error().code,
                      "issuer.crt does not chain to bundle.crt: " + ok.error().message);
  return out;
}

}  // namespace skiff
