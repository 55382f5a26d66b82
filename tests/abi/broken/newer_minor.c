/* Built against a later minor (1.7) with a longer vtable: must load, the extra member ignored. */
#include "common.h"
const skiff_abi_version_t skiff_plugin_abi_version = {1, 7};
typedef struct {
  skiff_resolver_vtable_v1_t v1;
  void (*added_in_1_7)(void*);
} future_vtable_t;
static const future_vtable_t vtable = {TEST_RESOLVER_VTABLE(sizeof(future_vtable_t), noop_create),
                                       NULL};
TEST_SINGLE_RESOLVER_PLUGIN("newer-minor", &vtable)
