// A C++ plugin that throws inside the SDK's guard: the exception becomes an error status.
#include <stdexcept>

#include "common.h"
#include "skiff/plugin.hpp"

extern "C" {
SKIFF_PLUGIN_DEFINE_ABI_VERSION();
}

namespace {
skiff_status_t guarded_create(const skiff_host_api_t*, const skiff_config_t*, void**, skiff_errbuf_t err) {
  return skiff::sdk::guard(err, []() -> skiff_status_t { throw std::runtime_error("bad config value"); });
}
const skiff_resolver_vtable_v1_t vtable = {sizeof(skiff_resolver_vtable_v1_t), guarded_create, noop_destroy,
                                           noop_register, noop_deregister, noop_resolve, nullptr, nullptr};
const skiff_component_t component = {sizeof(skiff_component_t), SKIFF_KIND_RESOLVER, "guarded-throw", &vtable};
const skiff_component_t* const components[] = {&component};
const skiff_plugin_info_t info = {sizeof(skiff_plugin_info_t), "guarded-throw", "0", components, 1};
}  // namespace

extern "C" skiff_status_t skiff_plugin_entry(const skiff_host_api_t*, const skiff_plugin_info_t** out, skiff_errbuf_t) {
  *out = &info;
  return SKIFF_OK;
}
