// Refuses a call whose head cannot be written into an HTTP request as it is. The caller's sidecar
// checks the heads it builds (a gRPC client's metadata, query string and content type reach it
// unparsed), and the callee's sidecar checks every head that arrives over the internal port
// before anything of it is written to its app.
#pragma once

#include "common/result.hpp"
#include "plugin/components.hpp"

namespace skiff {

// Values of `-bin` headers are raw bytes (gRPC binary metadata): kSkipped leaves them to the
// gRPC side, which never writes them as text; kChecked treats them as any other value.
enum class BinaryValues { kSkipped, kChecked };

// INVALID_ARGUMENT naming the part that is not allowed (verb, method, query or header).
Status check_call_head(const CallHead& head, BinaryValues binary);

}  // namespace skiff
