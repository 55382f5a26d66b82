// The plugin table and the two exported symbols of a bundled plugin with one component.
#ifndef SKIFF_PLUGINS_COMMON_BUNDLED_PLUGIN_HPP
#define SKIFF_PLUGINS_COMMON_BUNDLED_PLUGIN_HPP

#include "skiff/plugin.hpp"

// Defines plugin `plugin_name` whose one component is `component` (a skiff_component_t defined
// before, in an anonymous namespace). Use once, at namespace scope, outside any namespace.
#define SKIFF_BUNDLED_PLUGIN(component, plugin_name)                                           \
  namespace {                                                                                  \
  const skiff_component_t* const kComponents[] = {&component};                                 \
  const skiff_plugin_info_t kPluginInfo = {sizeof(skiff_plugin_info_t), plugin_name, "0.1.0",  \
                                           kComponents, 1};                                    \
  }                                                                                            \
  extern "C" {                                                                                 \
  SKIFF_PLUGIN_DEFINE_ABI_VERSION();                                                           \
  skiff_status_t skiff_plugin_entry(const skiff_host_api_t*, const skiff_plugin_info_t** info, \
                                    skiff_errbuf_t) {                                          \
    *info = &kPluginInfo;                                                                      \
    return SKIFF_OK;                                                                           \
  }                                                                                            \
  }

#endif  // SKIFF_PLUGINS_COMMON_BUNDLED_PLUGIN_HPP
