#include "security/certificates.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>

namespace skiff {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

Error openssl_error(const std::string& what) {
  char buf[256] = "";
  unsigned long e = ERR_get_error();
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return make_error(SKIFF_ERR_INTERNAL, what + (e ? std::string(": ") + buf : std::string()));
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Owned<BIO> bio_of(std::string_view text) {
  return Owned<BIO>(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool random_serial(X509* cert) {
  Owned<BIGNUM> bn(BN_new());
  if (!bn || !BN_rand(bn.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)) return false;
  return BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr;
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  ASN1_TIME_to_tm(t, &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string key_pem(EVP_PKEY* key) {
  Owned<BIO> out(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return drain(out.get());
}

std::string cert_pem(X509* cert) {
  Owned<BIO> out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(out.get(), cert);
  return drain(out.get());
}

// A certificate with a fresh serial, validity and subject; the caller adds extensions and signs.
Owned<X509> new_certificate(EVP_PKEY* key, const std::string& common_name, long from_s,
                            long until_s) {
  Owned<X509> cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), 2) || !random_serial(cert.get())) return nullptr;
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), until_s);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("skiff"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  if (!X509_set_pubkey(cert.get(), key)) return nullptr;
  return cert;
}

}  // namespace

Result<CaMaterial> make_root_ca(std::string_view trust_domain, std::chrono::seconds lifetime) {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return openssl_error("cannot make a CA key");
  auto cert = new_certificate(key.get(), "skiff root CA for " + std::string(trust_domain), -3600,
                              static_cast<long>(lifetime.count()));
  if (!cert) return openssl_error("cannot make the CA certificate");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  const std::string san = "URI:spiffe://" + std::string(trust_domain);
  if (!add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash") ||
      !add_extension(cert.get(), cert.get(), NID_subject_alt_name, san.c_str()) ||
      !X509_sign(cert.get(), key.get(), EVP_sha256()))
    return openssl_error("cannot sign the CA certificate");
  return CaMaterial{cert_pem(cert.get()), key_pem(key.get())};
}

Result<WorkloadCertificate> issue_workload_certificate(const CaMaterial& ca,
                                                       std::string_view spiffe_uri,
                                                       std::chrono::seconds lifetime) {
  auto ca_bio = bio_of(ca.cert_pem);
  Owned<X509> ca_cert(PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr));
  auto key_bio = bio_of(ca.key_pem);
  Owned<EVP_PKEY> ca_key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!ca_cert || !ca_key) return openssl_error("cannot read the CA certificate and key");
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1)
    return openssl_error("the CA key does not match the CA certificate");

  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return openssl_error("cannot make a workload key");
  // Never valid past the CA: a chain that outlives its root fails verification anyway.
  long until = static_cast<long>(lifetime.count());
  const auto ca_end = to_time_point(X509_get0_notAfter(ca_cert.get()));
  const auto left =
      std::chrono::duration_cast<std::chrono::seconds>(ca_end - std::chrono::system_clock::now())
          .count();
  if (left <= 0) return make_error(SKIFF_ERR_FAILED_PRECONDITION, "the CA certificate expired");
  until = std::min<long>(until, static_cast<long>(left));
  auto cert = new_certificate(key.get(), std::string(spiffe_uri), -60, until);
  if (!cert) return openssl_error("cannot make the workload certificate");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  const std::string san = "URI:" + std::string(spiffe_uri);
  if (!add_extension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !add_extension(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !add_extension(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth,clientAuth") ||
      !add_extension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always") ||
      !add_extension(cert.get(), ca_cert.get(), NID_subject_alt_name, san.c_str()) ||
      !X509_sign(cert.get(), ca_key.get(), EVP_sha256()))
    return openssl_error("cannot sign the workload certificate");
  WorkloadCertificate out;
  out.chain_pem = cert_pem(cert.get()) + cert_pem(ca_cert.get());
  out.key_pem = key_pem(key.get());
  out.not_before = to_time_point(X509_get0_notBefore(cert.get()));
  out.not_after = to_time_point(X509_get0_notAfter(cert.get()));
  return out;
}

Result<std::pair<std::chrono::system_clock::time_point, std::chrono::system_clock::time_point>>
certificate_validity(std::string_view pem) {
  auto bio = bio_of(pem);
  Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return openssl_error("not a PEM certificate");
  return std::pair{to_time_point(X509_get0_notBefore(cert.get())),
                   to_time_point(X509_get0_notAfter(cert.get()))};
}

}  // namespace skiff
