// The tcp transport's wire format: one call at a time per connection, as length-prefixed frames.
//
//   connection  = preface *call
//   preface     = "SKIFF-TCP/1\n"                      (client to server, once per connection)
//   frame       = type:u8 length:u32be payload[length]
//   call        = CALL_HEAD *DATA DATA_END             (client to server)
//                 (RESPONSE_HEAD *DATA DATA_END) / FAIL (server to client)
//
// Heads are strings and headers as u32be length + bytes. A connection carries the next call only
// after both directions of the previous one ended; anything else closes it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/skiff.h"

namespace skiff::tcp_transport::wire {

inline constexpr std::string_view kPreface = "SKIFF-TCP/1\n";
inline constexpr size_t kFrameHeaderSize = 5;
inline constexpr uint32_t kMaxHeadFrame = 1u << 20;  // call and response heads, failures
inline constexpr uint32_t kMaxDataFrame = 1u << 24;  // a writer splits larger chunks

enum FrameType : uint8_t {
  kCallHead = 1,
  kData = 2,
  kDataEnd = 3,  // the last piece of a body (possibly empty)
  kResponseHead = 4,
  kFail = 5,  // the callee sidecar could not answer: status and message
};

struct FrameHeader {
  uint8_t type = 0;
  uint32_t length = 0;
};

void put_frame_header(uint8_t* out, FrameType type, uint32_t length);
FrameHeader parse_frame_header(const uint8_t* in);

// Each appends one whole frame.
void append_call_head(std::string& out, const skiff_call_head_t& head);
void append_response_head(std::string& out, const skiff_response_head_t& head);
void append_fail(std::string& out, skiff_status_t status, std::string_view message);

// Decoded heads, as views into the payload they were parsed from.
struct CallHead {
  skiff_call_head_t c{};
  std::vector<skiff_header_t> headers;
};
struct ResponseHead {
  skiff_response_head_t c{};
  std::vector<skiff_header_t> headers;
};
// False when the payload is malformed (truncated, trailing bytes, absurd counts).
bool parse_call_head(std::string_view payload, CallHead& out);
bool parse_response_head(std::string_view payload, ResponseHead& out);
bool parse_fail(std::string_view payload, skiff_status_t& status, std::string_view& message);

}  // namespace skiff::tcp_transport::wire
