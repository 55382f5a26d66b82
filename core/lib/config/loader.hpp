// Reads skiff's TOML files and daemon flags into Settings, rejecting unknown keys, wrong types and
// out-of-range values with a message that names the file, line and key.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "config/schema.hpp"
#include "config/settings.hpp"

namespace skiff {

// /etc/skiff/skiff.toml then /etc/skiff/skiff.d/*.toml (sorted), those that exist.
std::vector<std::filesystem::path> default_config_files(
    const std::filesystem::path& dir = "/etc/skiff");

// Applies one TOML document (source_name is used in messages).
Status apply_toml_text(Settings& settings, std::string_view text, const std::string& source_name);
Status apply_toml_file(Settings& settings, const std::filesystem::path& file);
// Applies a flag value given as text, e.g. ("app.port", "8080").
Status apply_flag_value(Settings& settings, const KeySpec& spec, std::string_view text);
// Cross-key checks once everything is merged.
Status validate_settings(const Settings& settings);

struct FlagValue {
  const KeySpec* spec;
  std::string text;
};
// Files in order, then flags, then validation.
Result<Settings> load_settings(const std::vector<std::filesystem::path>& files,
                               const std::vector<FlagValue>& flags);

}  // namespace skiff
