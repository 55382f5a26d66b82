#include "tls.hpp"

#include <fcntl.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "skiff/plugin.hpp"

namespace skiff::grpc_transport {
namespace {

using sdk::str;
using sdk::view;

// How often gRPC rereads the files: a rotated set is used by new handshakes within this.
constexpr unsigned kRefreshSeconds = 1;

std::string system_error(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// The host's X.509-SVID checks after gRPC verified the chain. Synchronous and cheap: one PEM
// parse per handshake, never per call.
class SvidVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  SvidVerifier(const skiff_host_api_t* host, std::string app_id, std::string app_namespace)
      : host_(host), app_id_(std::move(app_id)), namespace_(std::move(app_namespace)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    auto leaf = request->peer_cert();
    char why[512] = "";
    auto st = host_->tls_check_peer(host_->host, skiff_str_t{leaf.data(), leaf.size()},
                                    str(app_id_), str(namespace_), skiff_errbuf_t{why, sizeof why});
    if (st == SKIFF_OK) {
      *sync_status = grpc::Status::OK;
      return true;
    }
    // gRPC reports a failed handshake only as "unavailable": say here who was refused and why.
    host_->log(
        host_->host, SKIFF_LOG_WARN, str("transport-grpc"),
        str(std::string(app_id_.empty() ? "refused a caller: " : "refused the callee: ") + why));
    *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, why);
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  const skiff_host_api_t* host_;
  const std::string app_id_, namespace_;
};

}  // namespace

MemoryFile::MemoryFile(const char* name) : name_(name) {}

MemoryFile::~MemoryFile() {
  if (fd_ >= 0) close(fd_);
}

std::string MemoryFile::replace(std::string_view content) {
  int fresh = memfd_create(name_, MFD_CLOEXEC);
  if (fresh < 0) return system_error("memfd_create");
  for (size_t done = 0; done < content.size();) {
    auto n = write(fresh, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      auto why = system_error("writing the credentials");
      close(fresh);
      return why;
    }
    done += static_cast<size_t>(n);
  }
  // gRPC's reader compares whole-second modification times before and after it reads key and
  // chain, and reads again when they differ: every generation gets a time of its own.
  ++generation_;
  const timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(generation_), 0}};
  futimens(fresh, times);
  if (fd_ < 0) {
    fd_ = fresh;
    return "";
  }
  // The same number now names the new file: gRPC's next read sees all of it or none of it.
  if (dup2(fresh, fd_) < 0) {
    auto why = system_error("dup2");
    close(fresh);
    return why;
  }
  close(fresh);
  return "";
}

std::string TlsCredentials::install(const skiff_tls_credentials_t& credentials) {
  if (!SKIFF_HAS(host_, skiff_host_api_t, tls_check_peer))
    return "mTLS needs a host with plugin ABI 1.3 or later (tls_check_peer)";
  if (credentials.cert_chain_pem.len == 0 || credentials.private_key_pem.len == 0 ||
      credentials.trust_bundle_pem.len == 0)
    return "mTLS needs the certificate chain, its key and the trust bundle in PEM (the host "
           "passed none: plugin ABI 1.3 hosts do)";
  std::lock_guard lock(mu_);
  std::string identity(view(credentials.private_key_pem));
  identity.append("\n").append(view(credentials.cert_chain_pem));
  // The bundle first: during a root rotation it holds the old and the new root, so a chain of
  // either verifies whichever file gRPC rereads first.
  if (auto why = bundle_.replace(view(credentials.trust_bundle_pem)); !why.empty()) return why;
  if (auto why = identity_.replace(identity); !why.empty()) return why;
  if (!provider_)
    provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        identity_.path(), identity_.path(), bundle_.path(), kRefreshSeconds);
  return "";
}

std::shared_ptr<grpc::ServerCredentials> TlsCredentials::server_credentials() const {
  grpc::experimental::TlsServerCredentialsOptions options(provider_);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<SvidVerifier>(host_, "", ""));
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> TlsCredentials::channel_credentials(
    std::string_view app_id, std::string_view app_namespace) const {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider_);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  // The peer is named by its SPIFFE ID, not by the host name of its address.
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<SvidVerifier>(
          host_, std::string(app_id), std::string(app_namespace)));
  return grpc::experimental::TlsCredentials(options);
}

std::string peer_identity(const grpc::ServerContextBase& context) {
  auto auth = context.auth_context();
  if (!auth) return "";
  // The verifier accepted exactly one URI SAN, a SPIFFE ID of the trust domain.
  for (const char* property : {GRPC_PEER_SPIFFE_ID_PROPERTY_NAME, GRPC_PEER_URI_PROPERTY_NAME}) {
    auto values = auth->FindPropertyValues(property);
    if (values.size() == 1) return std::string(values[0].data(), values[0].size());
  }
  return "";
}

}  // namespace skiff::grpc_transport
