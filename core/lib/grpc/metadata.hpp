// gRPC metadata and statuses on skiff's transport heads: which metadata travels, how names are
// made valid, and Dapr's mappings between HTTP and gRPC statuses.
#pragma once

#include <grpcpp/support/string_ref.h>

#include <map>
#include <string>
#include <vector>

#include "call/call_head.hpp"

namespace skiff {

// Metadata an app sent that travels to the other side: everything but pseudo-headers, the
// framing gRPC sets itself (content-type, te, grpc-*), user-agent and dapr-api-token.
std::vector<Header> headers_from_metadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata);
// Calls add(name, value) for each header that is valid gRPC metadata (lower-cased name of
// [0-9a-z-_.], printable value unless the name ends in -bin), skipping framing headers.
template <typename Add>
void for_each_metadata(const std::vector<Header>& headers, Add add);
bool metadata_name_ok(const std::string& lower_name, const std::string& value);
std::string lower(std::string_view s);

// The serialized google.rpc.Status Dapr attaches (grpc-status-details-bin) when an HTTP app
// answers InvokeService with an error: one google.rpc.ErrorInfo {reason: the status text,
// domain: "dapr.io", metadata: {"http.code", "http.error_message" (the body's first 63 bytes)}}.
std::string http_error_details(int code, const std::string& text, unsigned http_status,
                               std::string_view body);

template <typename Add>
void for_each_metadata(const std::vector<Header>& headers, Add add) {
  for (const auto& h : headers) {
    std::string name = lower(h.name);
    if (metadata_name_ok(name, h.value)) add(name, h.value);
  }
}

}  // namespace skiff
