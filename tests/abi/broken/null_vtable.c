/* A component without a vtable. */
#include "common.h"
SKIFF_PLUGIN_DEFINE_ABI_VERSION();
TEST_SINGLE_RESOLVER_PLUGIN("null-vtable", NULL)
