#include "common/http_syntax.hpp"

#include <gtest/gtest.h>

namespace skiff {
namespace {

using namespace std::string_view_literals;

TEST(HttpSyntax, TokensAreTcharsOnly) {
  EXPECT_TRUE(is_http_token("GET"));
  EXPECT_TRUE(is_http_token("X-Custom_Header.1!#$%&'*+^`|~"));
  EXPECT_FALSE(is_http_token(""));
  EXPECT_FALSE(is_http_token("GET /x HTTP/1.1\r\nHost: a"));
  EXPECT_FALSE(is_http_token("X:Y"));
  EXPECT_FALSE(is_http_token("X Y"));
  EXPECT_FALSE(is_http_token("caf\xc3\xa9"));
}

TEST(HttpSyntax, FieldValuesRefuseEveryControlCharacterButTab) {
  EXPECT_TRUE(is_http_field_value(""));
  EXPECT_TRUE(is_http_field_value("text/plain; charset=utf-8"));
  EXPECT_TRUE(is_http_field_value("a\tb"));
  EXPECT_TRUE(is_http_field_value("caf\xc3\xa9"));  // obs-text
  EXPECT_FALSE(is_http_field_value("a\r\nX-Forged: 1"));
  EXPECT_FALSE(is_http_field_value("a\nb"));
  EXPECT_FALSE(is_http_field_value("a\rb"));
  EXPECT_FALSE(is_http_field_value("a\0b"sv));
  EXPECT_FALSE(is_http_field_value("a\x7f"));
  EXPECT_FALSE(is_http_field_value("\x01"));
}

TEST(HttpSyntax, TargetPartsRefuseSpacesAndControls) {
  EXPECT_TRUE(is_http_target_part(""));
  EXPECT_TRUE(is_http_target_part("orders/1%2F2"));
  EXPECT_TRUE(is_http_target_part("a=1&b=%20"));
  EXPECT_FALSE(is_http_target_part("x HTTP/1.1"));
  EXPECT_FALSE(is_http_target_part("x\r\nHost: evil"));
  EXPECT_FALSE(is_http_target_part("x\tb"));
  EXPECT_FALSE(is_http_target_part("x\0"sv));
}

TEST(HttpSyntax, ContentLengthIsDigitsThatFit) {
  EXPECT_EQ(parse_content_length("0"), 0u);
  EXPECT_EQ(parse_content_length("12345"), 12345u);
  EXPECT_EQ(parse_content_length("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_content_length(""));
  EXPECT_FALSE(parse_content_length("+5"));
  EXPECT_FALSE(parse_content_length("-5"));
  EXPECT_FALSE(parse_content_length("5 "));
  EXPECT_FALSE(parse_content_length("5,5"));
  EXPECT_FALSE(parse_content_length("18446744073709551616"));
}

TEST(HttpSyntax, InvalidHeaderSaysWhichPartAndShowsControlsEscaped) {
  EXPECT_FALSE(invalid_header("X-A", "b"));
  auto name = invalid_header("X\r\nY", "b");
  ASSERT_TRUE(name);
  EXPECT_NE(name->find("X\\x0d\\x0aY"), std::string::npos) << *name;
  auto value = invalid_header("X-A", "b\r\nX-Forged: 1");
  ASSERT_TRUE(value);
  EXPECT_NE(value->find("X-A"), std::string::npos) << *value;
  EXPECT_NE(value->find("\\x0d\\x0a"), std::string::npos) << *value;
}

}  // namespace
}  // namespace skiff
