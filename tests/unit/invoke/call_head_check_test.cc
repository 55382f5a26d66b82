#include "invoke/call_head_check.hpp"

#include <gtest/gtest.h>

namespace skiff {
namespace {

CallHead valid_head() {
  CallHead h;
  h.target_app_id = "cart";
  h.verb = "POST";
  h.method = "items/1";
  h.query = "a=1";
  h.headers = {{"Content-Type", "application/json"}, {"Content-Length", "5"}};
  return h;
}

std::string refusal(const CallHead& h, BinaryValues binary = BinaryValues::kChecked) {
  auto checked = check_call_head(h, binary);
  if (checked) return "";
  EXPECT_EQ(checked.error().code, SKIFF_ERR_INVALID_ARGUMENT);
  return checked.error().message;
}

TEST(CallHeadCheck, AcceptsAnOrdinaryHead) {
  EXPECT_EQ(refusal(valid_head()), "");
}

TEST(CallHeadCheck, RefusesAVerbThatIsNotAToken) {
  auto h = valid_head();
  h.verb = "GET /admin HTTP/1.1\r\nX: y\r\n\r\nGET";
  EXPECT_NE(refusal(h).find("verb"), std::string::npos);
  h.verb = "";
  EXPECT_NE(refusal(h).find("verb"), std::string::npos);
}

TEST(CallHeadCheck, RefusesMethodOrQueryThatWouldSplitTheRequestLine) {
  auto h = valid_head();
  h.method = "x HTTP/1.1\r\nHost: evil\r\n\r\nGET /y";
  EXPECT_NE(refusal(h).find("method"), std::string::npos);
  h = valid_head();
  h.query = "a=1 HTTP/1.1\r\ndapr-caller-app-id: admin";
  EXPECT_NE(refusal(h).find("query"), std::string::npos);
}

TEST(CallHeadCheck, RefusesHeaderInjection) {
  auto h = valid_head();
  h.headers.push_back({"X-Note", "hi\r\ndapr-caller-app-id: admin"});
  EXPECT_NE(refusal(h).find("X-Note"), std::string::npos);
  h = valid_head();
  h.headers.push_back({"X-Note\r\nX-Forged", "1"});
  EXPECT_NE(refusal(h).find("name"), std::string::npos);
  h = valid_head();
  h.headers.push_back({"", "1"});
  EXPECT_NE(refusal(h), "");
}

TEST(CallHeadCheck, RefusesMalformedOrConflictingContentLength) {
  auto h = valid_head();
  h.headers.push_back({"content-length", "6"});
  EXPECT_NE(refusal(h).find("Content-Length"), std::string::npos);
  h = valid_head();
  h.headers[1].value = "5, 5";
  EXPECT_NE(refusal(h).find("Content-Length"), std::string::npos);
  h = valid_head();
  h.headers.push_back({"content-length", "5"});  // the same length twice is one length
  EXPECT_EQ(refusal(h), "");
}

TEST(CallHeadCheck, BinaryMetadataIsLeftToGrpcOnlyWhenAsked) {
  auto h = valid_head();
  h.headers.push_back({"trace-bin", std::string("\x00\r\n\xff", 4)});
  EXPECT_EQ(refusal(h, BinaryValues::kSkipped), "");
  EXPECT_NE(refusal(h, BinaryValues::kChecked), "");
  h.headers.back().name = "trace-bin\r\nX";  // names are checked either way
  EXPECT_NE(refusal(h, BinaryValues::kSkipped), "");
}

}  // namespace
}  // namespace skiff
