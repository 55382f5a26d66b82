#include "security/spiffe_id.hpp"

#include <openssl/x509v3.h>

#include <algorithm>

namespace skiff {
namespace {

bool valid_segment(std::string_view s) {
  if (s.empty() || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

Error bad(std::string_view uri, const std::string& why) {
  return make_error(SKIFF_ERR_UNAUTHENTICATED,
                    "\"" + std::string(uri.substr(0, 200)) + "\" is not a workload ID: " + why);
}

}  // namespace

std::string spiffe_uri(std::string_view td, std::string_view ns, std::string_view app_id) {
  std::string out = "spiffe://";
  out.append(td).append("/ns/").append(ns).append("/").append(app_id);
  return out;
}

std::string SpiffeId::uri() const {
  return spiffe_uri(trust_domain, app_namespace, app_id);
}

bool valid_trust_domain(std::string_view td) {
  if (td.empty() || td.size() > 255) return false;
  return std::all_of(td.begin(), td.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
  });
}

Result<SpiffeId> parse_spiffe_id(std::string_view uri) {
  constexpr std::string_view kScheme = "spiffe://";
  if (!uri.starts_with(kScheme)) return bad(uri, "not a spiffe:// URI");
  std::string_view rest = uri.substr(kScheme.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return bad(uri, "no path");
  SpiffeId id;
  id.trust_domain = std::string(rest.substr(0, slash));
  if (!valid_trust_domain(id.trust_domain)) return bad(uri, "bad trust domain");
  rest.remove_prefix(slash + 1);
  if (!rest.starts_with("ns/")) return bad(uri, "the path is not /ns/<namespace>/<app-id>");
  rest.remove_prefix(3);
  slash = rest.find('/');
  if (slash == std::string_view::npos) return bad(uri, "the path is not /ns/<namespace>/<app-id>");
  id.app_namespace = std::string(rest.substr(0, slash));
  id.app_id = std::string(rest.substr(slash + 1));
  if (!valid_segment(id.app_namespace) || !valid_segment(id.app_id))
    return bad(uri, "the path is not /ns/<namespace>/<app-id>");
  return id;
}

Result<std::string> single_uri_san(X509* cert) {
  if (cert == nullptr) return make_error(SKIFF_ERR_UNAUTHENTICATED, "no certificate");
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  std::string found;
  int uris = 0;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    ++uris;
    const ASN1_IA5STRING* s = name->d.uniformResourceIdentifier;
    found.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                 static_cast<size_t>(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(names);
  if (uris != 1)
    return make_error(
        SKIFF_ERR_UNAUTHENTICATED,
        "an X.509-SVID has exactly one URI SAN; the peer's has " + std::to_string(uris));
  return found;
}

Result<std::string> svid_uri(X509* leaf) {
  if (leaf == nullptr) return make_error(SKIFF_ERR_UNAUTHENTICATED, "no certificate");
  // An X.509-SVID leaf says CA:FALSE; OpenSSL's X509_check_ca would let CA:TRUE pass when the
  // key usage lacks keyCertSign.
  if ((X509_get_extension_flags(leaf) & EXFLAG_CA) != 0 || X509_check_ca(leaf) != 0)
    return make_error(SKIFF_ERR_UNAUTHENTICATED, "the peer's leaf certificate is a CA");
  auto found = single_uri_san(leaf);
  if (!found) return found;
  if (auto id = parse_spiffe_id(*found); !id) return id.error();
  return found;
}

}  // namespace skiff
