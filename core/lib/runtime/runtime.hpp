// Runtime: wires one skiffd together (plugins, app channel, invocation pipeline, servers), runs
// the event loop threads, and shuts down in order on SIGINT/SIGTERM.
#pragma once

#include "config/settings.hpp"

namespace skiff {

// Runs until a termination signal; returns the process exit code.
int run_sidecar(const Settings& settings);

}  // namespace skiff
