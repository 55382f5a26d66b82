// The HTTP message types of the app-facing API and the app channel, and Dapr's error bodies.
#pragma once

#include <boost/beast/http.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "call/call_head.hpp"
#include "call/status.hpp"
#include "skiff/abi.h"

namespace skiff {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// {"errorCode": code, "message": message} with the given status.
Response dapr_error(unsigned status, std::string_view code, std::string_view message);

// Hop-by-hop headers (RFC 9110 7.6.1) and the ones each hop sets itself (Content-Length, Host,
// Expect).
bool is_hop_by_hop(std::string_view name);
// Request headers that travel to the callee: everything but hop-by-hop headers, headers named in
// Connection, and skiff/Dapr control headers (dapr-app-id, dapr-api-token).
std::vector<Header> forwardable_request_headers(const http::fields& fields);
// Copies headers into fields, skipping hop-by-hop ones.
void copy_end_to_end_headers(const std::vector<Header>& headers, http::fields& fields);
std::vector<Header> end_to_end_headers(const http::fields& fields);

// Binary gRPC metadata (`-bin` names) as gRPC carries it over HTTP/2: base64. For HTTP apps and
// HTTP callers, which would otherwise get raw bytes in a header.
void encode_binary_values(std::vector<Header>& headers);

// Why these headers cannot be written into a message (a name that is not a token, a value with
// a control character), or nothing. Hop-by-hop headers, which are never written, are not checked.
std::optional<std::string> invalid_headers(const std::vector<Header>& headers);

// Message framing that Beast accepts but RFC 9112 6.1 does not let a recipient trust: a
// Transfer-Encoding whose final coding is not chunked (the length then cannot be known, and the
// bytes after the head would be taken for the next message), codings other than chunked (which
// skiff does not decode and would pass on unmarked), and Transfer-Encoding in an HTTP/1.0
// message. `chunked` is what the parser concluded. Nothing when the framing is sound.
struct FramingProblem {
  unsigned status;  // 400, or 501 for a coding skiff does not implement
  std::string message;
};
std::optional<FramingProblem> framing_problem(const http::fields& fields, bool chunked,
                                              unsigned version);

}  // namespace skiff
