// Mutual TLS for transport-grpc (ABI 1.3). gRPC owns its sockets, so it cannot use the host's
// io_start_tls: gRPC's own TLS stack runs the handshake with the PEMs the host hands over through
// set_credentials, verifies the peer's chain against the bundle, and asks the host
// (tls_check_peer) whether the peer's leaf is the X.509-SVID it must be.
//
// Rotation without a restart: gRPC's servers cannot swap their credentials, but its file-watcher
// certificate provider rereads its files every second and new handshakes use what it read. The
// files live in memory (memfd), reached as /proc/self/fd/N, so the private key never touches a
// file system; a new set replaces the file under the same descriptor number in one dup2.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "skiff/skiff.h"

namespace skiff::grpc_transport {

// One in-memory file whose whole content is replaced at once.
class MemoryFile {
 public:
  explicit MemoryFile(const char* name);
  ~MemoryFile();
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // Empty on success, else why. Readers that opened the path before see the old content.
  std::string replace(std::string_view content);
  // The path gRPC opens; valid while this object lives.
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  const char* name_;
  int fd_ = -1;
  long long generation_ = 0;
};

class TlsCredentials {
 public:
  explicit TlsCredentials(const skiff_host_api_t* host) : host_(host) {}

  // Installs a set: the first starts the provider, later ones rotate. Empty on success, else why;
  // a set that fails leaves the previous one in use.
  std::string install(const skiff_tls_credentials_t& credentials);

  // Server side: requires and verifies a client certificate of the trust domain.
  std::shared_ptr<grpc::ServerCredentials> server_credentials() const;
  // Client side, for a channel to one app: the server must present that app's SPIFFE ID.
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials(
      std::string_view app_id, std::string_view app_namespace) const;

 private:
  const skiff_host_api_t* host_;
  std::mutex mu_;                               // rotation only
  MemoryFile identity_{"skiff-grpc-identity"};  // the key, then the chain: one file, one swap
  MemoryFile bundle_{"skiff-grpc-bundle"};
  std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> provider_;
};

// The verified SPIFFE ID of the calling sidecar, from gRPC's view of the connection; empty when
// the connection carries none.
std::string peer_identity(const grpc::ServerContextBase& context);

}  // namespace skiff::grpc_transport
