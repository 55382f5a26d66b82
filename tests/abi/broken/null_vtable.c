/* A component without a vtable. */
#include "common.h"
SKIFF_PLUGIN_DEFINE_ABI_VERSION();
static const skiff_component_t component = {sizeof(skiff_component_t), SKIFF_KIND_RESOLVER, "null-vtable", NULL};
static const skiff_component_t* const components[] = {&component};
static const skiff_plugin_info_t info = {sizeof(skiff_plugin_info_t), "null-vtable", "0", components, 1};
skiff_status_t skiff_plugin_entry(const skiff_host_api_t* h, const skiff_plugin_info_t** out, skiff_errbuf_t e) {
  (void)h; (void)e;
  *out = &info;
  return SKIFF_OK;
}
