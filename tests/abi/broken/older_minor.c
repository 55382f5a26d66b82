/* Built against ABI 1.1: its component descriptor ends before check_config (added in 1.2), and its
 * create fails on a key it does not know. The host must not read past the descriptor, and check
 * mode must create the component to check its configuration. */
#include "common.h"
const skiff_abi_version_t skiff_plugin_abi_version = {1, 1};

static skiff_status_t picky_create(const skiff_host_api_t* h, const skiff_config_t* c, void** i,
                                   skiff_errbuf_t e) {
  if (h->config_type(c, skiff_str_from_cstr("bogus")) != SKIFF_CONFIG_NONE) {
    skiff_errbuf_set(e, "resolver.config.bogus: unknown key");
    return SKIFF_ERR_INVALID_ARGUMENT;
  }
  return noop_create(h, c, i, e);
}
static const skiff_resolver_vtable_v1_t vtable =
    TEST_RESOLVER_VTABLE(sizeof(skiff_resolver_vtable_v1_t), picky_create);

/* skiff_component_t as the 1.1 header declared it. */
typedef struct {
  uint32_t struct_size;
  uint32_t kind;
  const char* type_name;
  const void* vtable;
} component_v1_1_t;
static const component_v1_1_t component = {sizeof(component_v1_1_t), SKIFF_KIND_RESOLVER,
                                           "older-minor", &vtable};
static const skiff_component_t* const components[] = {(const skiff_component_t*)&component};
static const skiff_plugin_info_t info = {sizeof(skiff_plugin_info_t), "older-minor", "0",
                                         components, 1};
SKIFF_EXPORT skiff_status_t skiff_plugin_entry(const skiff_host_api_t* h,
                                               const skiff_plugin_info_t** out, skiff_errbuf_t e) {
  (void)h;
  (void)e;
  *out = &info;
  return SKIFF_OK;
}
