// transport-tcp's C ABI: the descriptor, the vtable and configuration.
#include <sys/resource.h>

#include <algorithm>
#include <string>

#include "client_call.hpp"
#include "server_conn.hpp"
#include "tcp_transport.hpp"
#include "transport_abi.hpp"

namespace skiff::tcp_transport {
namespace {

constexpr int64_t kMaxConnectionsLimit = 1 << 22;  // beyond any descriptor limit Linux allows

// 10000, or half the descriptors the process may open when that is less: the rest stays for
// app connections, outbound peers and the plugins' own files. skiffd raises its soft limit to
// the hard one before plugins are created.
int64_t default_max_connections() {
  constexpr int64_t kDefault = 10000;
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == RLIM_INFINITY) return kDefault;
  return std::clamp<int64_t>(static_cast<int64_t>(files.rlim_cur / 2), 1, kDefault);
}

// The configuration as create() takes it; throws std::invalid_argument naming the key.
Settings parse_config(const skiff_host_api_t* host, const skiff_config_t* config) {
  sdk::ConfigReader reader(host, config);
  static constexpr std::string_view kKeys[] = {
      "connect_timeout", "shutdown_grace", "max_idle_connections", "head_timeout",
      "idle_timeout",    "body_timeout",   "max_connections"};
  reader.reject_unknown_keys(kKeys);
  Settings s;
  s.connect_timeout_ms = reader.duration_ms_or("connect_timeout", s.connect_timeout_ms);
  s.shutdown_grace_ms = reader.duration_ms_or("shutdown_grace", s.shutdown_grace_ms);
  s.max_idle_connections = reader.int_or("max_idle_connections", s.max_idle_connections);
  s.head_timeout_ms = reader.duration_ms_or("head_timeout", s.head_timeout_ms);
  s.idle_timeout_ms = reader.duration_ms_or("idle_timeout", s.idle_timeout_ms);
  s.body_timeout_ms = reader.duration_ms_or("body_timeout", s.body_timeout_ms);
  s.max_connections = reader.int_or("max_connections", default_max_connections());
  auto fail = [&](std::string_view key, std::string_view why) {
    throw std::invalid_argument(reader.describe(key) + ": " + std::string(why));
  };
  if (s.connect_timeout_ms == 0) fail("connect_timeout", "must be more than 0");
  if (s.max_idle_connections < 0) fail("max_idle_connections", "must be 0 or more");
  // Bounded above so that a deadline (now + timeout, in milliseconds) never overflows.
  constexpr uint64_t kDay = 24 * 3600 * 1000;
  if (s.head_timeout_ms == 0 || s.head_timeout_ms > kDay)
    fail("head_timeout", "must be more than 0 and at most 24h");
  if (s.idle_timeout_ms == 0 || s.idle_timeout_ms > kDay)
    fail("idle_timeout", "must be more than 0 and at most 24h");
  if (s.body_timeout_ms > kDay) fail("body_timeout", "must be at most 24h (0: no limit)");
  if (s.max_connections < 1 || s.max_connections > kMaxConnectionsLimit)
    fail("max_connections", "must be from 1 to " + std::to_string(kMaxConnectionsLimit));
  return s;
}

skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config, void** instance,
                      skiff_errbuf_t err) {
  return sdk::guard(err, [&]() -> skiff_status_t {
    if (!SKIFF_HAS(host, skiff_host_api_t, io_close)) {
      skiff_errbuf_set(err, "needs a host with plugin ABI 1.1 or later (socket I/O)");
      return SKIFF_ERR_FAILED_PRECONDITION;
    }
    Settings s = parse_config(host, config);
    *instance = new TcpTransport(host, s);
    return SKIFF_OK;
  });
}

// What check mode runs: the same parsing as create(), nothing started.
skiff_status_t check_config(const skiff_host_api_t* host, const skiff_config_t* config,
                            skiff_errbuf_t err) {
  return sdk::guard(err, [&]() -> skiff_status_t {
    parse_config(host, config);
    return SKIFF_OK;
  });
}

// The host does the TLS (io_start_tls) with the credentials it owns, rotation included: this
// only says whether connections start with a handshake.
skiff_status_t set_credentials(void* instance, const skiff_tls_credentials_t* credentials,
                               skiff_errbuf_t err) {
  auto* transport = static_cast<TcpTransport*>(instance);
  if (credentials != nullptr && !SKIFF_HAS(transport->host(), skiff_host_api_t, io_start_tls)) {
    skiff_errbuf_set(err, "mTLS needs a host with plugin ABI 1.2 or later (io_start_tls)");
    return SKIFF_ERR_UNIMPLEMENTED;
  }
  transport->set_tls(credentials != nullptr);
  return SKIFF_OK;
}

}  // namespace
}  // namespace skiff::tcp_transport

SKIFF_BUNDLED_TRANSPORT(skiff::tcp_transport::TcpTransport, skiff::tcp_transport::ClientCall,
                        skiff::tcp_transport::ServerConn, skiff::tcp_transport::create,
                        skiff::tcp_transport::check_config, skiff::tcp_transport::set_credentials,
                        "tcp", "transport-tcp")
