/* A vtable whose struct_size is too small to hold the required functions. */
#include "common.h"
SKIFF_PLUGIN_DEFINE_ABI_VERSION();
static const skiff_resolver_vtable_v1_t vtable = TEST_RESOLVER_VTABLE(8, noop_create);
TEST_SINGLE_RESOLVER_PLUGIN("small-struct", &vtable)
