// Runtime: wires one skiffd together (plugins, app channel, invocation pipeline, servers), runs
// the event loop threads, reloads the configuration on SIGHUP and shuts down in order on
// SIGINT/SIGTERM.
#pragma once

#include "config/settings.hpp"
#include "runtime/reload.hpp"

namespace skiff {

// Runs until a termination signal; returns the process exit code. SIGHUP reads the configuration
// again from `reload_source` (reload.hpp); without one, SIGHUP is ignored with a warning.
int run_sidecar(const Settings& settings, SettingsSource reload_source = {});

}  // namespace skiff
