// transport-tcp's C ABI: the descriptor, the vtable and configuration.
#include "client_call.hpp"
#include "server_conn.hpp"
#include "tcp_transport.hpp"
#include "transport_abi.hpp"

namespace skiff::tcp_transport {
namespace {

skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config, void** instance,
                      skiff_errbuf_t err) {
  return sdk::guard(err, [&]() -> skiff_status_t {
    if (!SKIFF_HAS(host, skiff_host_api_t, io_close)) {
      skiff_errbuf_set(err, "needs a host with plugin ABI 1.1 or later (socket I/O)");
      return SKIFF_ERR_FAILED_PRECONDITION;
    }
    sdk::ConfigReader reader(host, config);
    static constexpr std::string_view kKeys[] = {"connect_timeout", "shutdown_grace",
                                                 "max_idle_connections"};
    reader.reject_unknown_keys(kKeys);
    Settings s;
    s.connect_timeout_ms = reader.duration_ms_or("connect_timeout", s.connect_timeout_ms);
    s.shutdown_grace_ms = reader.duration_ms_or("shutdown_grace", s.shutdown_grace_ms);
    s.max_idle_connections = reader.int_or("max_idle_connections", s.max_idle_connections);
    if (s.connect_timeout_ms == 0)
      throw std::invalid_argument(reader.describe("connect_timeout") + ": must be more than 0");
    if (s.max_idle_connections < 0)
      throw std::invalid_argument(reader.describe("max_idle_connections") + ": must be 0 or more");
    *instance = new TcpTransport(host, s);
    return SKIFF_OK;
  });
}

skiff_status_t set_credentials(void*, const skiff_tls_credentials_t* credentials,
                               skiff_errbuf_t err) {
  if (credentials == nullptr) return SKIFF_OK;
  skiff_errbuf_set(err, "transport-tcp does not support TLS in this version");
  return SKIFF_ERR_UNIMPLEMENTED;
}

}  // namespace
}  // namespace skiff::tcp_transport

SKIFF_BUNDLED_TRANSPORT(skiff::tcp_transport::TcpTransport, skiff::tcp_transport::ClientCall,
                        skiff::tcp_transport::ServerConn, skiff::tcp_transport::create,
                        skiff::tcp_transport::set_credentials, "tcp", "transport-tcp")
