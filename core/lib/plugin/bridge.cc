#include "plugin/bridge.hpp"

namespace skiff {

void complete_done(void* ud, skiff_status_t status, skiff_str_t message) {
  static_cast<Completion<DoneResult>*>(ud)->complete(
      DoneResult{status, std::string(view(message))});
}

void complete_resolve(void* ud, skiff_status_t status, const skiff_str_t* addresses, size_t count,
                      skiff_str_t message) {
  ResolveResult r{status, {}, std::string(view(message))};
  if (status == SKIFF_OK && addresses != nullptr) {
    r.addresses.reserve(count);
    for (size_t i = 0; i < count; ++i) r.addresses.emplace_back(view(addresses[i]));
  }
  static_cast<Completion<ResolveResult>*>(ud)->complete(std::move(r));
}

void complete_read(void* ud, skiff_status_t status, skiff_bytes_t chunk, int32_t end_of_body,
                   skiff_str_t message) {
  ReadResult r{status, {}, end_of_body != 0, std::string(view(message))};
  if (status == SKIFF_OK && chunk.len)
    r.chunk.assign(reinterpret_cast<const char*>(chunk.ptr), chunk.len);
  static_cast<Completion<ReadResult>*>(ud)->complete(std::move(r));
}

void complete_head(void* ud, skiff_status_t status, const skiff_response_head_t* head,
                   skiff_str_t message) {
  HeadResult r{status, {}, std::string(view(message))};
  if (status == SKIFF_OK && head != nullptr) {
    r.head.http_status = head->http_status;
    r.head.headers = copy_headers(head->headers, head->header_count);
  }
  static_cast<Completion<HeadResult>*>(ud)->complete(std::move(r));
}

std::vector<Header> copy_headers(const skiff_header_t* headers, size_t count) {
  std::vector<Header> out;
  if (headers == nullptr) return out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i)
    out.push_back(Header{std::string(view(headers[i].name)), std::string(view(headers[i].value))});
  return out;
}

std::vector<skiff_header_t> header_views(const std::vector<Header>& headers) {
  std::vector<skiff_header_t> out;
  out.reserve(headers.size());
  for (const auto& h : headers) out.push_back(skiff_header_t{str(h.name), str(h.value)});
  return out;
}

}  // namespace skiff
