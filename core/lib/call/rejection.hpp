// A call refused on its way (a middleware's verdict): what the caller's app gets instead of an
// answer from the target. It travels as an ordinary answer: an HTTP status, Dapr's error body
// {"errorCode", "message"} and headers, so HTTP and gRPC callers see it as they see any error.
#pragma once

#include <string>
#include <vector>

#include "call/call_head.hpp"

namespace skiff {

struct Rejection {
  int http_status = 403;   // 400-599
  std::string error_code;  // Dapr-style, e.g. "ERR_RATE_LIMITED"
  std::string message;
  std::vector<Header> headers;  // extra response headers (Retry-After, WWW-Authenticate)
};

// The answer a rejection stands for: its head (with Content-Type and Content-Length) and body.
struct RejectionAnswer {
  ResponseHead head;
  std::string body;
};
RejectionAnswer answer_for(const Rejection& rejection);

}  // namespace skiff
