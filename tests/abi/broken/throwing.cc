// A C++ plugin whose create() throws without the SDK's guard: the host must survive it.
#include <stdexcept>

#include "common.h"

extern "C" {
SKIFF_PLUGIN_DEFINE_ABI_VERSION();

static skiff_status_t throwing_create(const skiff_host_api_t*, const skiff_config_t*, void**,
                                      skiff_errbuf_t) {
  throw std::runtime_error("plugin bug");
}
static const skiff_resolver_vtable_v1_t vtable =
    TEST_RESOLVER_VTABLE(sizeof(skiff_resolver_vtable_v1_t), throwing_create);
TEST_SINGLE_RESOLVER_PLUGIN("throwing", &vtable)
}
