#include "http/messages.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace skiff {
namespace {

TEST(HttpMessages, DaprErrorBodyHasCodeAndMessage) {
  auto res = dapr_error(500, "ERR_DIRECT_INVOKE", "boom");
  EXPECT_EQ(res.result_int(), 500u);
  auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body["errorCode"], "ERR_DIRECT_INVOKE");
  EXPECT_EQ(body["message"], "boom");
  EXPECT_EQ(res[http::field::content_type], "application/json");
}

TEST(HttpMessages, HopByHopAndControlHeadersAreNotForwarded) {
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

std::optional<FramingProblem> framing_of(std::string_view head) {
  http::request_parser<http::empty_body> parser;
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(head.data(), head.size()), ec);
  EXPECT_FALSE(ec) << ec.message();
  return framing_problem(parser.get(), parser.chunked(), parser.get().version());
}

TEST(HttpMessages, FramingThatBeastAcceptsButTheRfcDoesNotIsAProblem) {
  EXPECT_FALSE(framing_of("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n"));
  EXPECT_FALSE(framing_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
  auto gzip = framing_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
  ASSERT_TRUE(gzip);
  EXPECT_EQ(gzip->status, 400u);
  auto not_final = framing_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
  ASSERT_TRUE(not_final);
  EXPECT_EQ(not_final->status, 400u);
  auto coded = framing_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  ASSERT_TRUE(coded);
  EXPECT_EQ(coded->status, 501u);
  auto old = framing_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 400u);
}

TEST(HttpMessages, InvalidHeadersNamesTheFirstBadOne) {
  EXPECT_FALSE(invalid_headers({{"A", "1"}, {"B", "2"}}));
  auto why = invalid_headers({{"A", "1"}, {"B", "2\r\nX-Forged: 1"}});
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("'B'"), std::string::npos) << *why;
}

}  // namespace
}  // namespace skiff
