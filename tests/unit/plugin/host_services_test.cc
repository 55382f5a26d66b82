#include "plugin/host_services.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace skiff {
namespace {

skiff_str_t s(const char* p) {
  return skiff_str_t{p, std::strlen(p)};
}

class HostConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    fill_config_accessors(api_);
    table_ = toml::parse(R"(
name = "x"
count = 3
ratio = 0.5
on = true
every = "250ms"
list = ["a", "b"]
[apps]
cart = ["127.0.0.1:1", "127.0.0.1:2"]
order = ["127.0.0.1:3"]
)",
                         std::string("plugin.toml"));
    config_ = skiff_config_t{&table_, "resolver.config"};
  }
  skiff_host_api_t api_{};
  toml::table table_;
  skiff_config_t config_{};
};

TEST_F(HostConfig, ReadsScalarsByPath) {
  skiff_str_t out{};
  ASSERT_EQ(api_.config_get_string(&config_, s("name"), &out), SKIFF_OK);
  EXPECT_EQ(std::string(out.ptr, out.len), "x");
  int64_t n = 0;
  EXPECT_EQ(api_.config_get_int(&config_, s("count"), &n), SKIFF_OK);
  EXPECT_EQ(n, 3);
  double d = 0;
  EXPECT_EQ(api_.config_get_float(&config_, s("ratio"), &d), SKIFF_OK);
  EXPECT_EQ(d, 0.5);
  int32_t b = 0;
  EXPECT_EQ(api_.config_get_bool(&config_, s("on"), &b), SKIFF_OK);
  EXPECT_EQ(b, 1);
  uint64_t ms = 0;
  EXPECT_EQ(api_.config_get_duration_ms(&config_, s("every"), &ms), SKIFF_OK);
  EXPECT_EQ(ms, 250u);
  ASSERT_EQ(api_.config_get_string(&config_, s("apps.cart[1]"), &out), SKIFF_OK);
  EXPECT_EQ(std::string(out.ptr, out.len), "127.0.0.1:2");
}

TEST_F(HostConfig, MissingAndMistypedValuesAreDistinguished) {
  int64_t n = 0;
  EXPECT_EQ(api_.config_get_int(&config_, s("nope"), &n), SKIFF_ERR_NOT_FOUND);
  EXPECT_EQ(api_.config_get_int(&config_, s("name"), &n), SKIFF_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(api_.config_type(&config_, s("nope")), SKIFF_CONFIG_NONE);
  EXPECT_EQ(api_.config_type(&config_, s("apps")), SKIFF_CONFIG_TABLE);
}

TEST_F(HostConfig, EnumeratesTableKeysInFileOrder) {
  EXPECT_EQ(api_.config_size(&config_, s("apps")), 2u);
  EXPECT_EQ(api_.config_size(&config_, s("list")), 2u);
  skiff_str_t key{};
  ASSERT_EQ(api_.config_key_at(&config_, s("apps"), 0, &key), SKIFF_OK);
  EXPECT_EQ(std::string(key.ptr, key.len), "cart");
  ASSERT_EQ(api_.config_key_at(&config_, s("apps"), 1, &key), SKIFF_OK);
  EXPECT_EQ(std::string(key.ptr, key.len), "order");
  EXPECT_EQ(api_.config_key_at(&config_, s("apps"), 2, &key), SKIFF_ERR_OUT_OF_RANGE);
}

TEST_F(HostConfig, DescribeNamesFileLineAndFullKey) {
  char buf[256];
  api_.config_describe(&config_, s("count"), buf, sizeof buf);
  EXPECT_STREQ(buf, "plugin.toml:3:9: resolver.config.count");
}

}  // namespace
}  // namespace skiff
