/* Loads fine; create() fails with a message. */
#include "common.h"
SKIFF_PLUGIN_DEFINE_ABI_VERSION();
static skiff_status_t failing_create(const skiff_host_api_t* h, const skiff_config_t* c, void** i, skiff_errbuf_t e) {
  (void)h; (void)c; (void)i;
  skiff_errbuf_set(e, "cannot reach the registry at 10.0.0.1:1");
  return SKIFF_ERR_UNAVAILABLE;
}
static const skiff_resolver_vtable_v1_t vtable = {sizeof(skiff_resolver_vtable_v1_t), failing_create, noop_destroy,
                                                  noop_register, noop_deregister, noop_resolve, NULL, NULL};
static const skiff_component_t component = {sizeof(skiff_component_t), SKIFF_KIND_RESOLVER, "create-fails", &vtable};
static const skiff_component_t* const components[] = {&component};
static const skiff_plugin_info_t info = {sizeof(skiff_plugin_info_t), "create-fails", "0", components, 1};
skiff_status_t skiff_plugin_entry(const skiff_host_api_t* h, const skiff_plugin_info_t** out, skiff_errbuf_t e) {
  (void)h; (void)e;
  *out = &info;
  return SKIFF_OK;
}
