// A C++ plugin whose create() throws without the SDK's guard: the host must survive it.
#include <stdexcept>

#include "common.h"

extern "C" {
SKIFF_PLUGIN_DEFINE_ABI_VERSION();
}

namespace {
skiff_status_t throwing_create(const skiff_host_api_t*, const skiff_config_t*, void**, skiff_errbuf_t) {
  throw std::runtime_error("plugin bug");
}
const skiff_resolver_vtable_v1_t vtable = {sizeof(skiff_resolver_vtable_v1_t), throwing_create, noop_destroy,
                                           noop_register, noop_deregister, noop_resolve, nullptr, nullptr};
const skiff_component_t component = {sizeof(skiff_component_t), SKIFF_KIND_RESOLVER, "throwing", &vtable};
const skiff_component_t* const components[] = {&component};
const skiff_plugin_info_t info = {sizeof(skiff_plugin_info_t), "throwing", "0", components, 1};
}  // namespace

extern "C" skiff_status_t skiff_plugin_entry(const skiff_host_api_t*, const skiff_plugin_info_t** out, skiff_errbuf_t) {
  *out = &info;
  return SKIFF_OK;
}
