// Process-wide logging through spdlog: plain text or JSON lines, level from the configuration.
#pragma once

#include <string>
#include <vector>

namespace skiff {

// Returns false for an unknown level name.
bool setup_logging(const std::string& level, bool json, const std::string& app_id);
// A reload's new log.level, from the next record on; false for an unknown level name.
bool set_log_level(const std::string& level);

class ObserverInstance;
// From now on every record logged also goes to these observers' on_log (on spdlog's thread),
// in place of any earlier list; when it returns, no on_log of the earlier list runs any more.
// Before setup_logging: nothing.
void forward_logs_to(std::vector<const ObserverInstance*> observers);

}  // namespace skiff
