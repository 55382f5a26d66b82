#include "api/external.hpp"

#include <gtest/gtest.h>

namespace skiff {
namespace {

TEST(ExternalEndpoint, BaseUrlsSplitIntoSchemeHostPortAndPath) {
  auto a = parse_base_url("https://payments.internal:8443/api/v1/");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->host, "payments.internal");
  EXPECT_EQ(a->port, "8443");
  EXPECT_EQ(a->base_path, "/api/v1");
  auto b = parse_base_url("http://127.0.0.1");
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->tls);
  EXPECT_EQ(b->port, "80");
  EXPECT_EQ(b->base_path, "");
  auto c = parse_base_url("https://[::1]/x");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, "443");
  EXPECT_FALSE(parse_base_url("ftp://example.test"));
  EXPECT_FALSE(parse_base_url("https://"));
  EXPECT_FALSE(parse_base_url("https://host:/x"));
}

}  // namespace
}  // namespace skiff
