#include "common/units.hpp"

#include <gtest/gtest.h>

namespace skiff {
namespace {

TEST(Units, SizesAcceptBinaryAndDecimalUnits) {
  EXPECT_EQ(parse_size("4Mi"), 4u << 20);
  EXPECT_EQ(parse_size("4MiB"), 4u << 20);
  EXPECT_EQ(parse_size("512Ki"), 512u << 10);
  EXPECT_EQ(parse_size("4MB"), 4000000u);
  EXPECT_EQ(parse_size("1048576"), 1048576u);
  EXPECT_EQ(parse_size(" 2 Gi "), 2ull << 30);
}

TEST(Units, BadSizesAreRejected) {
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("Mi"));
  EXPECT_FALSE(parse_size("4Xi"));
  EXPECT_FALSE(parse_size("-4"));
  EXPECT_FALSE(parse_size("99999999999999999999Gi"));
}

TEST(Units, DurationsAcceptCommonUnits) {
  EXPECT_EQ(parse_duration_ms("500ms"), 500u);
  EXPECT_EQ(parse_duration_ms("5s"), 5000u);
  EXPECT_EQ(parse_duration_ms("2m"), 120000u);
  EXPECT_EQ(parse_duration_ms("1h"), 3600000u);
  EXPECT_EQ(parse_duration_ms("250"), 250u);
  EXPECT_FALSE(parse_duration_ms("5 days"));
}

TEST(Units, FormattingRoundTrips) {
  EXPECT_EQ(format_size(4u << 20), "4Mi");
  EXPECT_EQ(format_size(1000), "1000");
  EXPECT_EQ(format_duration_ms(60000), "1m");
  EXPECT_EQ(format_duration_ms(1500), "1500ms");
}

}  // namespace
}  // namespace skiff
