#include "grpc/framing.hpp"

#include <gtest/gtest.h>

namespace skiff {
namespace {

TEST(Framing, MessagesAndTheEndSurviveAnyChunking) {
  std::string big(70000, 'x');
  GrpcCallEnd end{3,
                  "bad argument",
                  std::string("\x08\x03\x00\xff", 4),
                  {{"trace-id", "abc"}, {"blob-bin", std::string("\x00\x01", 2)}}};
  std::string stream =
      frame_message("one") + frame_message("") + frame_message(big) + frame_end(end);
  for (size_t step : {size_t{1}, size_t{3}, size_t{4096}, stream.size()}) {
    Deframer d;
    struct Frame {
      bool end;
      std::string payload;  // a copy: the deframer's views last until its next feed
    };
    std::vector<Frame> frames;
    for (size_t i = 0; i < stream.size(); i += step) {
      d.feed(std::string_view(stream).substr(i, step));
      while (auto f = d.next()) frames.push_back({f->end, std::string(f->payload)});
    }
    ASSERT_EQ(frames.size(), 4u) << "step " << step;
    EXPECT_EQ(frames[0].payload, "one");
    EXPECT_EQ(frames[1].payload, "");
    EXPECT_EQ(frames[2].payload, big);
    ASSERT_TRUE(frames[3].end);
    EXPECT_FALSE(frames[2].end);
    auto parsed = parse_end(frames[3].payload);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->code, 3);
    EXPECT_EQ(parsed->message, "bad argument");
    EXPECT_EQ(parsed->details, end.details);
    ASSERT_EQ(parsed->trailers.size(), 2u);
    EXPECT_EQ(parsed->trailers[1].value, std::string("\x00\x01", 2));
    EXPECT_TRUE(d.empty());
  }
}

TEST(Framing, AMalformedEndIsRefused) {
  EXPECT_FALSE(parse_end(""));
  EXPECT_FALSE(parse_end(std::string("\0\0\0\0\0\0\0\x09hi", 10)));  // length past the end
}

}  // namespace
}  // namespace skiff
