// The tcp transport's frames in both directions: call heads (caller to callee), response heads and
// failures (callee to caller). What parses is written again and must parse to the same head.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "wire.hpp"

namespace wire = skiff::tcp_transport::wire;

namespace {
std::string_view sv(skiff_str_t s) {
  return std::string_view(s.ptr, s.len);
}
bool same(const skiff_header_t* a, size_t na, const skiff_header_t* b, size_t nb) {
  if (na != nb) return false;
  for (size_t i = 0; i < na; ++i)
    if (sv(a[i].name) != sv(b[i].name) || sv(a[i].value) != sv(b[i].value)) return false;
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      wire::CallHead head;
      if (!wire::parse_call_head(payload, head)) return 0;
      std::string again;
      wire::append_call_head(again, head.c);
      auto fh = wire::parse_frame_header(reinterpret_cast<const uint8_t*>(again.data()));
      if (fh.type != wire::kCallHead || fh.length != again.size() - wire::kFrameHeaderSize)
        std::abort();
      wire::CallHead back;
      if (!wire::parse_call_head(std::string_view(again).substr(wire::kFrameHeaderSize), back))
        std::abort();
      if (back.c.timeout_ms != head.c.timeout_ms || sv(back.c.method) != sv(head.c.method) ||
          sv(back.c.verb) != sv(head.c.verb) || sv(back.c.query) != sv(head.c.query) ||
          !same(back.c.headers, back.c.header_count, head.c.headers, head.c.header_count))
        std::abort();
      break;
    }
    case 1: {
      wire::ResponseHead head;
      if (!wire::parse_response_head(payload, head)) return 0;
      std::string again;
      wire::append_response_head(again, head.c);
      wire::ResponseHead back;
      if (!wire::parse_response_head(std::string_view(again).substr(wire::kFrameHeaderSize),
                                     back) ||
          back.c.http_status != head.c.http_status ||
          !same(back.c.headers, back.c.header_count, head.c.headers, head.c.header_count))
        std::abort();
      break;
    }
    case 2: {
      skiff_status_t status;
      std::string_view message;
      if (!wire::parse_fail(payload, status, message)) return 0;
      std::string again;
      wire::append_fail(again, status, message);
      skiff_status_t status2;
      std::string_view message2;
      if (!wire::parse_fail(std::string_view(again).substr(wire::kFrameHeaderSize), status2,
                            message2) ||
          status2 != status || message2 != message)
        std::abort();
      break;
    }
    default:
      if (payload.size() >= wire::kFrameHeaderSize)
        (void)wire::parse_frame_header(reinterpret_cast<const uint8_t*>(payload.data()));
  }
  return 0;
}
