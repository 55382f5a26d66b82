#include "invoke/target.hpp"

#include <gtest/gtest.h>

namespace skiff {
namespace {

TEST(Target, UrlFormGivesAppMethodAndQuery) {
  auto t = target_from_url("/v1.0/invoke/cart/method/items/42?x=1&y=2", "default");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->app_id, "cart");
  EXPECT_EQ(t->app_namespace, "default");
  EXPECT_EQ(t->method, "items/42");
  EXPECT_EQ(t->query, "x=1&y=2");
}

TEST(Target, AppIdMayCarryANamespace) {
  auto t = target_from_url("/v1.0/invoke/cart.shop/method/x", "default");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->app_id, "cart");
  EXPECT_EQ(t->app_namespace, "shop");
}

TEST(Target, MoreThanOneDotIsInvalid) {
  auto t = target_from_url("/v1.0/invoke/a.b.c/method/x", "default");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, SKIFF_ERR_INVALID_ARGUMENT);
}

TEST(Target, PercentEncodingInTheMethodIsKeptExactly) {
  auto t = target_from_url("/v1.0/invoke/cart/method/a%2Fb%1F%25/c", "default");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->method, "a%2Fb%1F%25/c");
}

TEST(Target, MalformedPercentEncodingIsRejected) {
  EXPECT_FALSE(target_from_url("/v1.0/invoke/cart/method/a%zz", "default").ok());
  EXPECT_FALSE(target_from_url("/v1.0/invoke/cart/method/a%2", "default").ok());
  EXPECT_FALSE(target_from_url("/v1.0/invoke/cart/method/a%", "default").ok());
}

TEST(Target, PercentEncodedAppIdIsDecoded) {
  auto t = target_from_url("/v1.0/invoke/cart%2Eshop/method/x", "default");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->app_id, "cart");
  EXPECT_EQ(t->app_namespace, "shop");
}

TEST(Target, DotSegmentsCannotClimbAboveTheRoot) {
  auto t = target_from_url("/v1.0/invoke/cart/method/../../etc/./passwd", "default");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->method, "etc/passwd");
}

TEST(Target, TrailingSlashIsKept) {
  auto t = target_from_url("/v1.0/invoke/cart/method/items/", "default");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->method, "items/");
}

TEST(Target, MissingMethodSegmentIsNotFound) {
  auto t = target_from_url("/v1.0/invoke/cart/x", "default");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, SKIFF_ERR_NOT_FOUND);
  EXPECT_FALSE(target_from_url("/v1.0/invoke//method/x", "default").ok());
}

TEST(Target, EmptyMethodIsRejectedAsDaprDoes) {
  for (auto url :
       {"/v1.0/invoke/cart/method", "/v1.0/invoke/cart/method/", "/v1.0/invoke/cart/method/./.."}) {
    auto t = target_from_url(url, "default");
    ASSERT_FALSE(t.ok()) << url;
    EXPECT_EQ(t.error().code, SKIFF_ERR_INVALID_ARGUMENT);
  }
  EXPECT_FALSE(target_from_header("cart", "/", "default").ok());
}

TEST(Target, HeaderFormUsesTheWholePath) {
  auto t = target_from_header("cart", "/api/items/1?q=2", "prod");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->app_id, "cart");
  EXPECT_EQ(t->app_namespace, "prod");
  EXPECT_EQ(t->method, "api/items/1");
  EXPECT_EQ(t->query, "q=2");
}

TEST(Target, ControlCharactersAreRejected) {
  EXPECT_FALSE(normalize_method(std::string("a\x01"
                                            "b"))
                   .ok());
  EXPECT_FALSE(normalize_method("a#b").ok());
}

TEST(Target, BasicAuthCarriesTheAppId) {
  // base64("dapr-app-id:cart")
  EXPECT_EQ(app_id_from_basic_auth("Basic ZGFwci1hcHAtaWQ6Y2FydA=="), "cart");
  EXPECT_FALSE(app_id_from_basic_auth("Basic dXNlcjpwYXNz"));  // user:pass
  EXPECT_FALSE(app_id_from_basic_auth("Bearer abc"));
  EXPECT_FALSE(app_id_from_basic_auth("Basic !!!"));
}

}  // namespace
}  // namespace skiff
