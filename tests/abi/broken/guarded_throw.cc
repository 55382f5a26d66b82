// A C++ plugin that throws inside the SDK's guard: the exception becomes an error status.
#include <stdexcept>

#include "common.h"
#include "skiff/plugin.hpp"

extern "C" {
SKIFF_PLUGIN_DEFINE_ABI_VERSION();

static skiff_status_t guarded_create(const skiff_host_api_t*, const skiff_config_t*, void**,
                                     skiff_errbuf_t err) {
  return skiff::sdk::guard(
      err, []() -> skiff_status_t { throw std::runtime_error("bad config value"); });
}
static const skiff_resolver_vtable_v1_t vtable =
    TEST_RESOLVER_VTABLE(sizeof(skiff_resolver_vtable_v1_t), guarded_create);
TEST_SINGLE_RESOLVER_PLUGIN("guarded-throw", &vtable)
}
