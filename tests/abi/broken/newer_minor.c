/* Built against a later minor (1.7) with a longer vtable: must load, the extra member ignored. */
#include "common.h"
const skiff_abi_version_t skiff_plugin_abi_version = {1, 7};
typedef struct {
  skiff_resolver_vtable_v1_t v1;
  void (*added_in_1_7)(void*);
} future_vtable_t;
static const future_vtable_t vtable = {{sizeof(future_vtable_t), noop_create, noop_destroy, noop_register,
                                        noop_deregister, noop_resolve, NULL, NULL}, NULL};
static const skiff_component_t component = {sizeof(skiff_component_t), SKIFF_KIND_RESOLVER, "newer-minor", &vtable};
static const skiff_component_t* const components[] = {&component};
static const skiff_plugin_info_t info = {sizeof(skiff_plugin_info_t), "newer-minor", "0", components, 1};
skiff_status_t skiff_plugin_entry(const skiff_host_api_t* h, const skiff_plugin_info_t** out, skiff_errbuf_t e) {
  (void)h; (void)e;
  *out = &info;
  return SKIFF_OK;
}
