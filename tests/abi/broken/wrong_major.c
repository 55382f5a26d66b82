/* Claims ABI 2.0; its entry must never run. */
#include <stdlib.h>

#include "common.h"
const skiff_abi_version_t skiff_plugin_abi_version = {2, 0};
skiff_status_t skiff_plugin_entry(const skiff_host_api_t* h, const skiff_plugin_info_t** info,
                                  skiff_errbuf_t e) {
  (void)h;
  (void)info;
  (void)e;
  abort(); /* the loader must refuse before running any code */
}
