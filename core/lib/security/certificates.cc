#include "security/certificates.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>
#include <vector>

#include "security/spiffe_id.hpp"

namespace skiff {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
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
  // A common name holds 64 characters at most; the name that counts is the URI SAN.
  const std::string cn = common_name.substr(0, 64);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  if (!X509_set_pubkey(cert.get(), key)) return nullptr;
  return cert;
}

struct Signer {
  Owned<X509> cert;
  Owned<EVP_PKEY> key;
};

// The CA's first certificate and its key, which must belong together: a rotation that wrote
// one file and not yet the other is refused, not used.
Result<Signer> read_signer(const CaMaterial& ca) {
  auto ca_bio = bio_of(ca.cert_pem);
  Owned<X509> cert(PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr));
  auto key_bio = bio_of(ca.key_pem);
  Owned<EVP_PKEY> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!cert || !key) return openssl_error("cannot read the CA certificate and key");
  if (X509_check_private_key(cert.get(), key.get()) != 1)
    return openssl_error("the CA key does not match the CA certificate");
  return Signer{std::move(cert), std::move(key)};
}

// `lifetime` in seconds, but never past the CA's own end: a chain that outlives its issuer fails
// verification anyway.
Result<long> capped_lifetime(X509* ca_cert, std::chrono::seconds lifetime) {
  const auto ca_end = to_time_point(X509_get0_notAfter(ca_cert));
  const auto left =
      std::chrono::duration_cast<std::chrono::seconds>(ca_end - std::chrono::system_clock::now())
          .count();
  if (left <= 0) return make_error(SKIFF_ERR_FAILED_PRECONDITION, "the CA certificate expired");
  return std::min<long>(static_cast<long>(lifetime.count()), static_cast<long>(left));
}

// An X.509-SVID of `key` for `spiffe_uri`: exactly one URI SAN, CA:FALSE, digitalSignature,
// serverAuth and clientAuth. The chain is the leaf and the CA's first certificate.
Result<WorkloadCertificate> sign_svid(const CaMaterial& ca, EVP_PKEY* key,
                                      std::string_view spiffe_uri, std::chrono::seconds lifetime) {
  auto signer = read_signer(ca);
  if (!signer) return signer.error();
  X509* issuer = signer->cert.get();
  auto until = capped_lifetime(issuer, lifetime);
  if (!until) return until.error();
  // Valid from a minute ago: clocks of machines differ.
  auto cert = new_certificate(key, std::string(spiffe_uri), -60, *until);
  if (!cert) return openssl_error("cannot make the workload certificate");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer));
  const std::string san = "URI:" + std::string(spiffe_uri);
  if (!add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE") ||
      !add_extension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature") ||
      !add_extension(cert.get(), issuer, NID_ext_key_usage, "serverAuth,clientAuth") ||
      !add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always") ||
      !add_extension(cert.get(), issuer, NID_subject_alt_name, san.c_str()) ||
      !X509_sign(cert.get(), signer->key.get(), EVP_sha256()))
    return openssl_error("cannot sign the workload certificate");
  WorkloadCertificate out;
  out.chain_pem = cert_pem(cert.get()) + cert_pem(issuer);
  out.not_before = to_time_point(X509_get0_notBefore(cert.get()));
  out.not_after = to_time_point(X509_get0_notAfter(cert.get()));
  return out;
}

// A certificate request whose signature checks out (it proves the requester holds the key).
Result<Owned<X509_REQ>> read_request(std::string_view csr_pem) {
  if (csr_pem.size() > 16384)
    return make_error(SKIFF_ERR_INVALID_ARGUMENT, "the certificate request is too large");
  auto bio = bio_of(csr_pem);
  Owned<X509_REQ> req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!req) return make_error(SKIFF_ERR_INVALID_ARGUMENT, "not a PEM certificate request");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (!key || X509_REQ_verify(req.get(), key) != 1) {
    ERR_clear_error();
    return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                      "the certificate request's signature does not verify");
  }
  return req;
}

std::vector<Owned<X509>> read_certificates(std::string_view pem) {
  std::vector<Owned<X509>> out;
  auto bio = bio_of(pem);
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
  ERR_clear_error();
  return out;
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

Result<CaMaterial> make_issuing_ca(const CaMaterial& root, std::string_view trust_domain,
                                   std::chrono::seconds lifetime) {
  auto signer = read_signer(root);
  if (!signer) return signer.error();
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return openssl_error("cannot make an issuing CA key");
  auto until = capped_lifetime(signer->cert.get(), lifetime);
  if (!until) return until.error();
  auto cert = new_certificate(key.get(), "skiff issuing CA for " + std::string(trust_domain), -3600,
                              *until);
  if (!cert) return openssl_error("cannot make the issuing CA certificate");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer->cert.get()));
  const std::string san = "URI:spiffe://" + std::string(trust_domain);
  X509* issuer = signer->cert.get();
  if (!add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !add_extension(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_extension(cert.get(), issuer, NID_subject_key_identifier, "hash") ||
      !add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always") ||
      !add_extension(cert.get(), issuer, NID_subject_alt_name, san.c_str()) ||
      !X509_sign(cert.get(), signer->key.get(), EVP_sha256()))
    return openssl_error("cannot sign the issuing CA certificate");
  return CaMaterial{cert_pem(cert.get()), key_pem(key.get())};
}

Result<WorkloadCertificate> issue_workload_certificate(const CaMaterial& ca,
                                                       std::string_view spiffe_uri,
                                                       std::chrono::seconds lifetime) {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return openssl_error("cannot make a workload key");
  auto cert = sign_svid(ca, key.get(), spiffe_uri, lifetime);
  if (!cert) return cert.error();
  cert->key_pem = key_pem(key.get());
  return cert;
}

Result<WorkloadRequest> make_workload_request(std::string_view spiffe_uri) {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  Owned<X509_REQ> req(X509_REQ_new());
  if (!key || !req || !X509_REQ_set_version(req.get(), 0) ||
      !X509_REQ_set_pubkey(req.get(), key.get()))
    return openssl_error("cannot make a certificate request");
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  const std::string cn(spiffe_uri.substr(0, 64));  // a common name holds 64 characters at most
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  const std::string san = "URI:" + std::string(spiffe_uri);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  bool ok = exts && ext && sk_X509_EXTENSION_push(exts, ext) > 0;
  if (!ok) X509_EXTENSION_free(ext);
  ok = ok && X509_REQ_add_extensions(req.get(), exts) == 1 &&
       X509_REQ_sign(req.get(), key.get(), EVP_sha256()) > 0;
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (!ok) return openssl_error("cannot sign the certificate request");
  Owned<BIO> out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(out.get(), req.get());
  return WorkloadRequest{key_pem(key.get()), drain(out.get())};
}

Result<std::string> requested_uri(std::string_view csr_pem) {
  auto req = read_request(csr_pem);
  if (!req) return req.error();
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req->get());
  std::vector<std::string> uris;
  for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    auto* names = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext));
    for (int j = 0; names && j < sk_GENERAL_NAME_num(names); ++j) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, j);
      if (n->type != GEN_URI) continue;
      const ASN1_IA5STRING* s = n->d.uniformResourceIdentifier;
      uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<size_t>(ASN1_STRING_length(s)));
    }
    GENERAL_NAMES_free(names);
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (uris.size() != 1)
    return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                      "a certificate request names exactly one URI SAN; this one names " +
                          std::to_string(uris.size()));
  return uris.front();
}

Result<WorkloadCertificate> sign_workload_request(const CaMaterial& ca, std::string_view csr_pem,
                                                  std::string_view spiffe_uri,
                                                  std::chrono::seconds lifetime) {
  auto req = read_request(csr_pem);
  if (!req) return req.error();
  EVP_PKEY* key = X509_REQ_get0_pubkey(req->get());
  // The SVID rules ask for the key type we make ourselves; anything else is refused, not signed.
  char group[32] = "";
  size_t group_len = 0;
  if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_group_name(key, group, sizeof group, &group_len) != 1 ||
      std::string_view(group, group_len) != "prime256v1") {
    ERR_clear_error();
    return make_error(SKIFF_ERR_INVALID_ARGUMENT, "the request's key is not an ECDSA P-256 key");
  }
  return sign_svid(ca, key, spiffe_uri, lifetime);
}

Result<std::string> verify_chain(std::string_view chain_pem, std::string_view bundle_pem) {
  auto chain = read_certificates(chain_pem);
  auto roots = read_certificates(bundle_pem);
  if (chain.empty()) return make_error(SKIFF_ERR_INVALID_ARGUMENT, "no certificate in the chain");
  if (roots.empty()) return make_error(SKIFF_ERR_INVALID_ARGUMENT, "no certificate in the bundle");
  Owned<X509_STORE> store(X509_STORE_new());
  for (auto& r : roots) X509_STORE_add_cert(store.get(), r.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted, chain[i].get());
  Owned<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  bool ok = ctx && X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted) == 1 &&
            X509_verify_cert(ctx.get()) == 1;
  std::string why = ok || !ctx ? "cannot verify"
                               : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  ctx.reset();
  sk_X509_free(untrusted);
  ERR_clear_error();
  if (!ok)
    return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                      "the certificate does not verify against the trust bundle: " + why);
  // Every sidecar is a TLS client and a server: an SVID that is not both would fail handshakes.
  const uint32_t usage = X509_get_extended_key_usage(chain[0].get());
  if ((usage & XKU_SSL_SERVER) == 0 || (usage & XKU_SSL_CLIENT) == 0)
    return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                      "the certificate is not for both TLS server and client authentication");
  return svid_uri(chain[0].get());
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
