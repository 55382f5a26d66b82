/* The entry function refuses to start. */
#include "common.h"
SKIFF_PLUGIN_DEFINE_ABI_VERSION();
skiff_status_t skiff_plugin_entry(const skiff_host_api_t* h, const skiff_plugin_info_t** out,
                                  skiff_errbuf_t e) {
  (void)h;
  (void)out;
  skiff_errbuf_set(e, "license file missing");
  return SKIFF_ERR_FAILED_PRECONDITION;
}
