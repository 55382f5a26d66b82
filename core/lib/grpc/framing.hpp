// The messages of a proxied gRPC call travel in the transport's body stream as frames, the way
// gRPC-Web frames them: one flag byte (0x00 a message, 0x80 the end of the call), a 4-byte
// big-endian length, the payload. The end frame carries the status, its details and the
// trailing metadata, so any transport that carries bytes carries gRPC calls whole.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "call/call_head.hpp"

namespace skiff {

struct GrpcCallEnd {
  int code = 0;
  std::string message;
  std::string details;  // grpc-status-details-bin, raw
  std::vector<Header> trailers;
};

std::string frame_message(std::string_view message);
// The 5 bytes that precede a message of `length` bytes.
void append_message_header(std::string& out, size_t length);
std::string frame_end(const GrpcCallEnd& end);
// Reads back what frame_end wrote; nullopt when the payload is malformed.
std::optional<GrpcCallEnd> parse_end(std::string_view payload);

// Splits a byte stream into frames, whatever its chunking.
class Deframer {
 public:
  struct Frame {
    bool end = false;
    std::string_view payload;  // valid until the next feed()
  };
  void feed(std::string_view bytes);
  // The next complete frame, if one is buffered.
  std::optional<Frame> next();
  bool empty() const { return pending_.size() == offset_; }

 private:
  std::string pending_;
  size_t offset_ = 0;
};

}  // namespace skiff
