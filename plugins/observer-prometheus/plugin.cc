// observer-prometheus: serves the host's metrics (collect_metrics, ABI 1.4) in Prometheus's text
// format at GET /metrics, from a thread of its own. The host creates it from [metrics]: its table
// holds `address` and `port`.
#include "skiff/plugin.hpp"

#include <memory>
#include <string>

#include "bundled_plugin.hpp"
#include "exposition.hpp"
#include "server.hpp"

namespace {

using skiff::prometheus::MetricsServer;

struct Config {
  std::string address = "127.0.0.1";
  uint16_t port = 9090;
};

Config parse_config(const skiff_host_api_t* host, const skiff_config_t* config) {
  if (!SKIFF_HAS(host, skiff_host_api_t, collect_metrics))
    throw std::invalid_argument("this plugin needs a host of ABI 1.4 or later (collect_metrics)");
  skiff::sdk::ConfigReader reader(host, config);
  static constexpr std::string_view kKeys[] = {"address", "port"};
  reader.reject_unknown_keys(kKeys);
  Config cfg;
  cfg.address = reader.string_or("address", cfg.address);
  const int64_t port = reader.int_or("port", cfg.port);
  if (port < 1 || port > 65535)
    throw std::invalid_argument(reader.describe("port") + ": must be between 1 and 65535");
  cfg.port = static_cast<uint16_t>(port);
  boost::system::error_code ec;
  boost::asio::ip::make_address(cfg.address, ec);
  if (ec)
    throw std::invalid_argument(reader.describe("address") + ": \"" + cfg.address +
                                "\" is not an IP address");
  return cfg;
}

class PrometheusObserver {
 public:
  PrometheusObserver(const skiff_host_api_t* host, const Config& cfg)
      : host_(host), server_(cfg.address, cfg.port, [this](std::string& body) { render(body); }) {
    std::string line =
        "serving metrics at http://" +
        (cfg.address.find(':') != std::string::npos ? "[" + cfg.address + "]" : cfg.address) + ":" +
        std::to_string(server_.port()) + "/metrics";
    host_->log(host_->host, SKIFF_LOG_INFO, skiff::sdk::str("observer-prometheus"),
               skiff::sdk::str(line));
  }

 private:
  void render(std::string& body) {
    host_->collect_metrics(
        host_->host,
        [](void* user, const skiff_metric_t* const* metrics, size_t count) {
          skiff::prometheus::write_exposition(metrics, count, *static_cast<std::string*>(user));
        },
        &body);
  }

  const skiff_host_api_t* host_;
  MetricsServer server_;
};

skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config, void** instance,
                      skiff_errbuf_t err) {
  return skiff::sdk::guard(err, [&]() -> skiff_status_t {
    Config cfg = parse_config(host, config);
    try {
      *instance = new PrometheusObserver(host, cfg);
    } catch (const std::runtime_error& e) {
      skiff::sdk::ConfigReader reader(host, config);
      skiff_errbuf_set(err, (reader.describe("port") + ": " + e.what()).c_str());
      return SKIFF_ERR_UNAVAILABLE;
    }
    return SKIFF_OK;
  });
}

void destroy(void* instance) {
  delete static_cast<PrometheusObserver*>(instance);
}

skiff_status_t check_config(const skiff_host_api_t* host, const skiff_config_t* config,
                            skiff_errbuf_t err) {
  return skiff::sdk::guard(err, [&]() -> skiff_status_t {
    parse_config(host, config);
    return SKIFF_OK;
  });
}

const skiff_observer_vtable_v1_t kVtable = {
    sizeof(skiff_observer_vtable_v1_t), create, destroy, nullptr, nullptr, nullptr};
const skiff_component_t kComponent = {sizeof(skiff_component_t), SKIFF_KIND_OBSERVER, "prometheus",
                                      &kVtable, check_config};

}  // namespace

SKIFF_BUNDLED_PLUGIN(kComponent, "observer-prometheus")
