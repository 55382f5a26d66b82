// How a call ended, in the call model's terms: the status codes of the ABI (gRPC's), and Dapr's
// mapping of them onto the HTTP status an HTTP caller sees.
#pragma once

#include "skiff/abi.h"

namespace skiff {

// Dapr's mapping of a gRPC-style status to an HTTP status.
unsigned http_status_for(skiff_status_t status);
// Dapr's mapping the other way, for an HTTP answer a gRPC caller gets: 2xx is OK, 400 INTERNAL
// (as Dapr has it), unknown statuses UNKNOWN.
skiff_status_t status_for_http(unsigned http_status);

}  // namespace skiff
