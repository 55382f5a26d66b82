// The one declaration of every configuration key: it drives TOML parsing, flag parsing,
// validation and docs/configuration.md, so none of them can drift from the others.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/settings.hpp"

namespace skiff {

enum class KeyKind {
  kString,
  kEnum,
  kInt,
  kFloat,
  kBool,
  kSize,
  kDuration,
  kStringList,
  kPluginTable
};

using SettingsField = std::variant<std::string Settings::*, int64_t Settings::*, double Settings::*,
                                   bool Settings::*, uint64_t Settings::*,
                                   std::vector<std::string> Settings::*, toml::table Settings::*>;

struct KeySpec {
  std::string_view key;  // dotted TOML path, e.g. "app.port"
  KeyKind kind;
  SettingsField field;
  std::string_view flag;  // daemon flag (daprd's name where daprd has the setting), or empty
  std::string_view doc;
  int64_t min = 0;  // kInt and kFloat: inclusive range
  int64_t max = 0;
  std::vector<std::string_view> choices = {};  // kEnum
};

std::span<const KeySpec> config_schema();
const KeySpec* find_key(std::string_view key);
// Whether a reload (SIGHUP) applies a new value of this key to the running sidecar; the others
// keep their value until a restart. [[http_endpoints]] and [access_control] reload too.
bool is_reloadable(std::string_view key);
std::string_view kind_name(KeyKind kind);
// The default value of a key as written in docs ("4Mi", "\"127.0.0.1\"", "[]").
std::string default_text(const KeySpec& spec);
// The generated part of docs/configuration.md.
std::string render_configuration_reference();

}  // namespace skiff
