// Daemon flags, declared from the configuration schema so that every flag name maps to exactly
// one key. Go-style single-dash long flags (-app-id) are accepted, as daprd accepts them.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "config/loader.hpp"

namespace skiff {

class ConfigFlags {
 public:
  // Adds one option per schema key that has a flag.
  void add_to(CLI::App& app);
  // The flags given on the command line, in schema order, then daprd's legacy size flags.
  std::vector<FlagValue> given() const;
  // One line per daprd flag that was given but has no skiff equivalent (it is ignored).
  std::vector<std::string> ignored() const;

 private:
  struct Slot {
    const KeySpec* spec;
    CLI::Option* option = nullptr;
    std::vector<std::string> values;
    bool flag_value = false;
  };
  std::vector<std::unique_ptr<Slot>> slots_;
  // daprd's older size flags, in MB and KB: --dapr-http-max-request-size,
  // --dapr-http-read-buffer-size
  std::vector<std::string> max_request_mb_, read_buffer_kb_;
  std::vector<std::pair<std::string, CLI::Option*>> ignored_;
  std::vector<std::string> ignored_values_;
};

// Rewrites "-app-id" into "--app-id" (but leaves "-h" and "-" alone).
std::vector<std::string> normalize_go_flags(int argc, char** argv);

}  // namespace skiff
