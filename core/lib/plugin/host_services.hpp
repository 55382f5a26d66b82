// The host service table handed to plugins: logging, posting onto the event loop, timers and
// read access to the component's own configuration table.
#pragma once

#include <toml++/toml.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "security/workload_tls.hpp"
#include "skiff/skiff.h"
#include "telemetry/metrics.hpp"

// The opaque configuration handle of the ABI: a component's table and its dotted key prefix.
struct skiff_config_t {
  const toml::table* table;
  std::string prefix;  // e.g. "resolver.config", for messages
};

namespace skiff {

class HostServices {
 public:
  explicit HostServices(boost::asio::io_context& io);
  HostServices(const HostServices&) = delete;
  HostServices& operator=(const HostServices&) = delete;

  const skiff_host_api_t* api() const { return &api_; }
  boost::asio::io_context& io() { return io_; }

  // The credentials io_start_tls uses; set before any transport starts, null with mTLS off.
  void set_workload_tls(std::shared_ptr<WorkloadTls> tls) { tls_ = std::move(tls); }
  const std::shared_ptr<WorkloadTls>& workload_tls() const { return tls_; }

  // The metrics collect_metrics reads; set before any observer is created (null: none kept).
  void set_metrics(const MetricRegistry* metrics) { metrics_ = metrics; }

  // Set on the thread that hands log records to observers while it calls their on_log: what
  // a plugin logs from there is dropped, or every record would log another one.
  static bool& forwarding_log() {
    thread_local bool forwarding = false;
    return forwarding;
  }

 private:
  static void log(void* host, int32_t level, skiff_str_t component, skiff_str_t message);
  static void post(void* host, skiff_task_fn fn, void* user_data);
  static skiff_timer_id_t timer_start(void* host, uint64_t delay_ms, skiff_task_fn fn, void* ud);
  static int32_t timer_cancel(void* host, skiff_timer_id_t id);
  static void collect_metrics(void* host, skiff_metrics_fn fn, void* user_data);

  boost::asio::io_context& io_;
  skiff_host_api_t api_{};
  std::shared_ptr<WorkloadTls> tls_;
  const MetricRegistry* metrics_ = nullptr;
  std::mutex timers_mu_;  // plugin timers are rare (heartbeats), never on the request path
  uint64_t next_timer_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<boost::asio::steady_timer>> timers_;
};

// Exposed for tests and for the CLI, which reads plugin tables without an event loop.
void fill_config_accessors(skiff_host_api_t& api);

}  // namespace skiff
