#include "runtime/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "telemetry/access_log.hpp"

namespace skiff {
namespace {

// One JSON object per line, with Dapr's field names (time, level, msg, scope, app_id).
class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string app_id) : app_id_(std::move(app_id)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto secs = std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch());
    std::time_t t = std::chrono::system_clock::to_time_t(msg.time);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[64];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string time =
        std::string(stamp) + "." + fmt::format("{:06d}", secs.count() % 1000000) + "Z";
    std::string_view payload(msg.payload.data(), msg.payload.size());
    nlohmann::json line = {{"time", time},
                           {"level", spdlog::level::to_string_view(msg.level).data()},
                           {"msg", std::string(payload)},
                           {"scope", "skiffd"},
                           {"app_id", app_id_},
                           {"ver", SKIFF_VERSION}};
    // An access log line carries its fields (telemetry/access_log.hpp).
    if (!payload.empty() && payload[0] == kFieldsMarker) {
      auto fields = nlohmann::json::parse(payload.substr(1), nullptr, false);
      if (fields.is_object())
        for (auto& [k, v] : fields.items()) line[k] = v;
    }
    auto s = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(s.data(), s.data() + s.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(app_id_);
  }

 private:
  std::string app_id_;
};

}  // namespace

bool setup_logging(const std::string& level, bool json, const std::string& app_id) {
  auto lvl = level == "fatal" ? spdlog::level::critical : spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return false;
  // Lines are written by spdlog's own thread, so a burst of warnings (an app that is down while
  // thousands of calls fail) never blocks an event loop on stderr. When the queue is full the
  // oldest lines are dropped rather than making callers wait. The queue's slots are allocated
  // up front (about 400 bytes each): 1024 of them hold a long burst for 0.4 MiB, where
  // spdlog's customary 8192 cost an idle sidecar 3.2 MiB.
  spdlog::init_thread_pool(1024, 1);
  auto logger = std::make_shared<spdlog::async_logger>(
      "skiffd", std::make_shared<spdlog::sinks::stderr_sink_mt>(), spdlog::thread_pool(),
      spdlog::async_overflow_policy::overrun_oldest);
  if (json)
    logger->set_formatter(std::make_unique<JsonFormatter>(app_id));
  else
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [skiffd] %v");
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return true;
}

}  // namespace skiff
