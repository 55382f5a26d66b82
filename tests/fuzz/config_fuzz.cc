// Configuration as skiffd reads it: TOML through the schema, then validation; and the first line
// of the input as a value for every flag.
#include <cstdint>
#include <string>
#include <string_view>

#include "config/loader.hpp"
#include "config/schema.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  skiff::Settings settings;
  if (skiff::apply_toml_text(settings, in, "fuzz.toml")) (void)skiff::validate_settings(settings);
  const std::string_view line = in.substr(0, in.find('\n'));
  for (const auto& spec : skiff::config_schema()) {
    skiff::Settings flagged;
    if (skiff::apply_flag_value(flagged, spec, line)) (void)skiff::validate_settings(flagged);
  }
  return 0;
}
