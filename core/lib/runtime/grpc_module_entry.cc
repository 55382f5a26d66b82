// The skiff-grpc module's entry point (api/grpc_module.hpp).
#include "api/grpc_api.hpp"
#include "api/grpc_module.hpp"
#include "appchannel/grpc_app_channel.hpp"

namespace skiff {
namespace {

std::unique_ptr<GrpcApiServer> create_api(boost::asio::io_context& io, const Settings& settings,
                                          Caller& caller, const SidecarInfo& info) {
  return std::make_unique<GrpcApi>(io, settings, caller, info);
}

std::unique_ptr<AppClient> create_app_client(const Settings& settings) {
  return std::make_unique<GrpcAppChannel>(settings);
}

const GrpcModule kModule{create_api, create_app_client};

}  // namespace
}  // namespace skiff

extern "C" __attribute__((visibility("default"))) const skiff::GrpcModule* skiff_grpc_module() {
  return &skiff::kModule;
}
