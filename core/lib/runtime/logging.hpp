// Process-wide logging through spdlog: plain text or JSON lines, level from the configuration.
#pragma once

#include <string>

namespace skiff {

// Returns false for an unknown level name.
bool setup_logging(const std::string& level, bool json, const std::string& app_id);

}  // namespace skiff
