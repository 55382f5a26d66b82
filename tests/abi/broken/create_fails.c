/* Loads fine; create() fails with a message. */
#include "common.h"
SKIFF_PLUGIN_DEFINE_ABI_VERSION();
static skiff_status_t failing_create(const skiff_host_api_t* h, const skiff_config_t* c, void** i,
                                     skiff_errbuf_t e) {
  (void)h;
  (void)c;
  (void)i;
  skiff_errbuf_set(e, "cannot reach the registry at 10.0.0.1:1");
  return SKIFF_ERR_UNAVAILABLE;
}
static const skiff_resolver_vtable_v1_t vtable =
    TEST_RESOLVER_VTABLE(sizeof(skiff_resolver_vtable_v1_t), failing_create);
TEST_SINGLE_RESOLVER_PLUGIN("create-fails", &vtable)
