// transport-grpc: carries invocations between sidecars as one bidirectional gRPC stream per call
// (grpc++ callback API). Head and small bodies share one message each way.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "invocation.grpc.pb.h"
#include "skiff/plugin.hpp"
#include "tls.hpp"

namespace skiff::grpc_transport {

namespace pb = ::skiff::internal::v1;

struct Settings {
  uint64_t keepalive_time_ms = 10000;
  uint64_t keepalive_timeout_ms = 5000;
  uint64_t max_reconnect_backoff_ms = 1000;
  uint64_t shutdown_grace_ms = 5000;
};

class GrpcTransport;

class Service final : public pb::Invocation::CallbackService {
 public:
  explicit Service(GrpcTransport* transport) : transport_(transport) {}
  grpc::ServerBidiReactor<pb::Frame, pb::Frame>* Call(
      grpc::CallbackServerContext* context) override;

 private:
  GrpcTransport* transport_;
};

class GrpcTransport {
 public:
  GrpcTransport(const skiff_host_api_t* host, Settings settings);
  ~GrpcTransport();

  skiff_status_t listen(std::string_view address, uint16_t port,
                        const skiff_inbound_handler_t* handler, uint16_t* bound_port,
                        skiff_errbuf_t err);
  void shutdown(skiff_done_fn done, void* user_data);
  skiff_status_t call_start(std::string_view address, const skiff_call_head_t* head,
                            skiff_client_call_t** call, skiff_errbuf_t err);
  // mTLS: the first set turns it on (before listen and any call); later sets rotate.
  skiff_status_t set_credentials(const skiff_tls_credentials_t* credentials, skiff_errbuf_t err);
  bool tls_on() const { return tls_ != nullptr; }

  const skiff_inbound_handler_t& handler() const { return handler_; }
  void log(int32_t level, const std::string& message) const;

 private:
  pb::Invocation::Stub* stub_for(const std::string& address, const skiff_call_head_t& head);

  const skiff_host_api_t* host_;
  Settings settings_;
  // Before server_ and stubs_, so that it outlives them: gRPC's file watcher reads its files
  // for as long as a server or channel holds the credentials.
  std::unique_ptr<TlsCredentials> tls_;  // set once, before listen and the first call
  Service service_{this};
  std::unique_ptr<grpc::Server> server_;
  skiff_inbound_handler_t handler_{};
  std::thread shutdown_thread_;
  std::mutex channels_mu_;  // held only to find or create a peer's channel
  // By address, and with mTLS also by the app the channel verified: a channel's handshakes
  // accept one SPIFFE ID only.
  std::unordered_map<std::string, std::unique_ptr<pb::Invocation::Stub>> stubs_;
};

// Conversions between the ABI's views and the protocol's messages.
void fill_headers(const skiff_header_t* headers, size_t count,
                  google::protobuf::RepeatedPtrField<pb::Header>* out);
std::vector<skiff_header_t> header_views(
    const google::protobuf::RepeatedPtrField<pb::Header>& headers);

}  // namespace skiff::grpc_transport
