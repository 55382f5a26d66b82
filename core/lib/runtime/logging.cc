#include "runtime/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "plugin/components.hpp"
#include "plugin/host_services.hpp"
#include "telemetry/access_log.hpp"

namespace skiff {
namespace {

// Hands every record the logger writes to the observers that take logs. spdlog's own thread
// calls it (the logger is asynchronous), so an observer's on_log never runs on an event loop;
// base_sink's mutex is taken by that one thread, and by set_takers() at start and shutdown.
// It is in the logger from the start (an empty list costs a lock per line on spdlog's thread):
// a sink added later would race with the thread that walks the logger's sinks.
class ObserverLogSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // After it returns no on_log of an earlier list is running or will be called.
  void set_takers(std::vector<const ObserverInstance*> takers) {
    std::lock_guard lock(mutex_);
    takers_ = std::move(takers);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (takers_.empty()) return;
    std::string_view payload(msg.payload.data(), msg.payload.size());
    std::string_view component = "skiffd";
    std::string scope;
    if (!payload.empty() && payload[0] == kFieldsMarker) {
      // An access-log record: its fields as a JSON object, named by its scope.
      payload.remove_prefix(1);
      auto fields = nlohmann::json::parse(payload, nullptr, false);
      if (fields.is_object() && fields.contains("scope") && fields["scope"].is_string())
        scope = fields["scope"].get<std::string>();
      if (!scope.empty()) component = scope;
    } else if (payload.starts_with('[')) {
      // A plugin's line through host->log: "[component] message".
      if (auto end = payload.find("] "); end != std::string_view::npos) {
        component = payload.substr(1, end - 1);
        payload.remove_prefix(end + 2);
      }
    }
    const auto nanos =
        std::chrono::duration_cast<std::chrono::nanoseconds>(msg.time.time_since_epoch()).count();
    skiff_log_record_t record{sizeof(skiff_log_record_t), static_cast<uint64_t>(nanos),
                              level_of(msg.level), str(component), str(payload)};
    HostServices::forwarding_log() = true;
    for (const auto* taker : takers_) taker->on_log(record);
    HostServices::forwarding_log() = false;
  }
  void flush_() override {}

 private:
  static int32_t level_of(spdlog::level::level_enum level) {
    switch (level) {
      case spdlog::level::trace:
        return SKIFF_LOG_TRACE;
      case spdlog::level::debug:
        return SKIFF_LOG_DEBUG;
      case spdlog::level::info:
        return SKIFF_LOG_INFO;
      case spdlog::level::warn:
        return SKIFF_LOG_WARN;
      default:
        return SKIFF_LOG_ERROR;
    }
  }
  std::vector<const ObserverInstance*> takers_;
};

std::shared_ptr<ObserverLogSink>& observer_log_sink() {
  static std::shared_ptr<ObserverLogSink> sink;
  return sink;
}

}  // namespace

void forward_logs_to(std::vector<const ObserverInstance*> observers) {
  if (auto& sink = observer_log_sink()) sink->set_takers(std::move(observers));
}
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

// Dapr's level names, "fatal" included.
std::optional<spdlog::level::level_enum> level_named(const std::string& level) {
  auto lvl = level == "fatal" ? spdlog::level::critical : spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return std::nullopt;
  return lvl;
}

}  // namespace

bool set_log_level(const std::string& level) {
  auto lvl = level_named(level);
  if (!lvl) return false;
  spdlog::default_logger()->set_level(*lvl);  // an atomic the logging calls read
  return true;
}

bool setup_logging(const std::string& level, bool json, const std::string& app_id) {
  auto parsed = level_named(level);
  if (!parsed) return false;
  const auto lvl = *parsed;
  // Lines are written by spdlog's own thread, so a burst of warnings (an app that is down while
  // thousands of calls fail) never blocks an event loop on stderr. When the queue is full the
  // oldest lines are dropped rather than making callers wait. The queue's slots are allocated
  // up front (about 400 bytes each): 1024 of them hold a long burst for 0.4 MiB, where
  // spdlog's customary 8192 cost an idle sidecar 3.2 MiB.
  spdlog::init_thread_pool(1024, 1);
  observer_log_sink() = std::make_shared<ObserverLogSink>();
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_mt>(),
                                      observer_log_sink()};
  auto logger = std::make_shared<spdlog::async_logger>(
      "skiffd", sinks.begin(), sinks.end(), spdlog::thread_pool(),
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
