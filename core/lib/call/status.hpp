// How a call ended, in the call model's terms: the status codes of the ABI (gRPC's), and Dapr's
// mapping of them onto the HTTP status an HTTP caller sees.
#pragma once

#include "skiff/abi.h"

namespace skiff {

// Dapr's mapping of a gRPC-style status to an HTTP status.
unsigned http_status_for(skiff_status_t status);

}  // namespace skiff
