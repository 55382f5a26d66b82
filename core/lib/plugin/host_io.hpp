// ABI 1.1 socket I/O for plugins: a plugin's non-blocking socket served by the host's io_context,
// so a transport's reads and writes complete on the host's threads instead of on its own.
#pragma once

#include "skiff/skiff.h"

namespace skiff {

// Installs io_open, io_wait, io_read, io_write, io_cancel and io_close; the table's `host` must be
// the HostServices whose io_context serves the sockets.
void fill_io_functions(skiff_host_api_t& api);

}  // namespace skiff
