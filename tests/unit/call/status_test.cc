#include "call/status.hpp"

#include <gtest/gtest.h>

namespace skiff {
namespace {

TEST(CallStatus, HttpStatusMappingFollowsDapr) {
  EXPECT_EQ(http_status_for(SKIFF_ERR_DEADLINE_EXCEEDED), 504u);
  EXPECT_EQ(http_status_for(SKIFF_ERR_PERMISSION_DENIED), 403u);
  EXPECT_EQ(http_status_for(SKIFF_ERR_UNAUTHENTICATED), 401u);
  EXPECT_EQ(http_status_for(SKIFF_ERR_RESOURCE_EXHAUSTED), 429u);
  EXPECT_EQ(http_status_for(SKIFF_ERR_UNAVAILABLE), 503u);
  EXPECT_EQ(http_status_for(SKIFF_ERR_INTERNAL), 500u);
}

}  // namespace
}  // namespace skiff
