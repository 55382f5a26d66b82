// gRPC message framing of proxy mode: a byte stream cut at arbitrary points into frames, and the
// end-of-call frame's status, details and trailers; what parses is written again identically.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "grpc/framing.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t step = data[0] % 16 + 1;
  skiff::Deframer deframer;
  for (size_t at = 0; at < in.size(); at += step) {
    deframer.feed(in.substr(at, step));
    while (auto frame = deframer.next()) {
      if (!frame->end) continue;
      auto end = skiff::parse_end(frame->payload);
      if (!end) continue;
      auto again = skiff::frame_end(*end);
      auto back = skiff::parse_end(std::string_view(again).substr(5));
      if (!back || back->code != end->code || back->message != end->message ||
          back->details != end->details || back->trailers.size() != end->trailers.size())
        std::abort();
    }
  }
  return 0;
}
