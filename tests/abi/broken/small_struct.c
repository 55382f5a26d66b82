/* A vtable whose struct_size is too small to hold the required functions. */
#include "common.h"
SKIFF_PLUGIN_DEFINE_ABI_VERSION();
static const skiff_resolver_vtable_v1_t vtable = {8, noop_create, noop_destroy, noop_register, noop_deregister,
                                                  noop_resolve, NULL, NULL};
static const skiff_component_t component = {sizeof(skiff_component_t), SKIFF_KIND_RESOLVER, "small-struct", &vtable};
static const skiff_component_t* const components[] = {&component};
static const skiff_plugin_info_t info = {sizeof(skiff_plugin_info_t), "small-struct", "0", components, 1};
skiff_status_t skiff_plugin_entry(const skiff_host_api_t* h, const skiff_plugin_info_t** out, skiff_errbuf_t e) {
  (void)h; (void)e;
  *out = &info;
  return SKIFF_OK;
}
