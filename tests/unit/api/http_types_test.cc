#include "api/http_types.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace skiff {
namespace {

TEST(HttpTypes, DaprErrorBodyHasCodeAndMessage) {
  auto res = dapr_error(500, "ERR_DIRECT_INVOKE", "boom");
  EXPECT_EQ(res.result_int(), 500u);
  auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body["errorCode"], "ERR_DIRECT_INVOKE");
  EXPECT_EQ(body["message"], "boom");
  EXPECT_EQ(res[http::field::content_type], "application/json");
}

TEST(HttpTypes, StatusMappingFollowsDapr) {
  EXPECT_EQ(http_status_for(SKIFF_ERR_DEADLINE_EXCEEDED), 504u);
  EXPECT_EQ(http_status_for(SKIFF_ERR_PERMISSION_DENIED), 403u);
  EXPECT_EQ(http_status_for(SKIFF_ERR_UNAUTHENTICATED), 401u);
  EXPECT_EQ(http_status_for(SKIFF_ERR_RESOURCE_EXHAUSTED), 429u);
  EXPECT_EQ(http_status_for(SKIFF_ERR_UNAVAILABLE), 503u);
  EXPECT_EQ(http_status_for(SKIFF_ERR_INTERNAL), 500u);
}

TEST(HttpTypes, HopByHopAndControlHeadersAreNotForwarded) {
  http::fields f;
  f.insert("Connection", "keep-alive, X-Private");
  f.insert("Keep-Alive", "timeout=5");
  f.insert("X-Private", "secret");
  f.insert("Transfer-Encoding", "chunked");
  f.insert("dapr-app-id", "cart");
  f.insert("dapr-api-token", "t");
  f.insert("X-Keep", "1");
  f.insert("Cookie", "a=b");
  auto out = forwardable_request_headers(f);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "X-Keep");
  EXPECT_EQ(out[1].name, "Cookie");
}

}  // namespace
}  // namespace skiff
