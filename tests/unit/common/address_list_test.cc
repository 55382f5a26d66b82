#include "common/address_list.hpp"

#include <gtest/gtest.h>

namespace skiff {
namespace {

std::vector<std::string> parsed(std::string_view list) {
  auto r = parse_address_list(list);
  EXPECT_TRUE(r.ok()) << list << ": " << (r.ok() ? "" : r.error().message);
  std::vector<std::string> out;
  if (r.ok())
    for (const auto& a : *r) out.push_back(a.to_string());
  return out;
}

TEST(AddressList, TakesDaprdsForms) {
  EXPECT_EQ(parsed("[::1],127.0.0.1"), (std::vector<std::string>{"::1", "127.0.0.1"}));
  EXPECT_EQ(parsed("::1"), (std::vector<std::string>{"::1"}));
  EXPECT_EQ(parsed(" 0.0.0.0 , [::] "), (std::vector<std::string>{"0.0.0.0", "::"}));
  EXPECT_EQ(parsed("127.0.0.1,,"), (std::vector<std::string>{"127.0.0.1"}));
  EXPECT_EQ(parsed("localhost"), (std::vector<std::string>{"::1", "127.0.0.1"}));
}

TEST(AddressList, RefusesWhatIsNotAnAddress) {
  for (std::string_view bad : {"", ",", "127.0.0.1,example.com", "[::1", "127.0.0.256", "[]"}) {
    auto r = parse_address_list(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  auto r = parse_address_list("127.0.0.1,nowhere");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "\"nowhere\" is not an IP address");
  EXPECT_EQ(parse_address_list(" , ").error().message, "no address given");
}

}  // namespace
}  // namespace skiff
