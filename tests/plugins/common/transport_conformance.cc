// The behaviour every transport plugin must show, built once per transport.
#include "transport_fixture.hpp"

namespace skiff {
namespace {

TEST_F(Transport, SmallCallCarriesHeadAndBodyBothWays) {
  auto a = call(address_, "items/1", "hello");
  ASSERT_EQ(a.status, SKIFF_OK) << a.message;
  EXPECT_EQ(a.http_status, 201);
  EXPECT_EQ(a.body, "hello");
  EXPECT_EQ(header(a, "x-method"), "items/1");
  EXPECT_EQ(header(a, "x-verb"), "PUT");
  EXPECT_EQ(header(a, "x-query"), "a=1");
}

TEST_F(Transport, EmptyBodyIsOneFrameEachWay) {
  auto a = call(address_, "x", "");
  ASSERT_EQ(a.status, SKIFF_OK) << a.message;
  EXPECT_EQ(a.body, "");
}

TEST_F(Transport, LargeBodyInManyChunksArrivesIntact) {
  std::string body(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 131) % 251);
  auto a = call(address_, "big", body);
  ASSERT_EQ(a.status, SKIFF_OK) << a.message;
  EXPECT_EQ(a.body, body);
}

TEST_F(Transport, ManyConcurrentCallsShareThePooledChannel) {
  std::vector<std::thread> threads;
  std::vector<Answer> answers(32);
  for (int i = 0; i < 32; ++i)
    threads.emplace_back(
        [&, i] { answers[i] = call(address_, "n" + std::to_string(i), std::to_string(i)); });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 32; ++i) {
    ASSERT_EQ(answers[i].status, SKIFF_OK) << answers[i].message;
    EXPECT_EQ(answers[i].body, std::to_string(i));
  }
}

TEST_F(Transport, CalleeFailureReachesTheCallerWithItsStatus) {
  auto a = call(address_, "fail", "x");
  EXPECT_EQ(a.status, SKIFF_ERR_INTERNAL);
  EXPECT_EQ(a.message, "the app is down");
}

TEST_F(Transport, ManySequentialCallsReuseConnections) {
  for (int i = 0; i < 200; ++i) {
    auto a = call(address_, "seq", std::to_string(i));
    ASSERT_EQ(a.status, SKIFF_OK) << i << ": " << a.message;
    ASSERT_EQ(a.body, std::to_string(i));
  }
}

TEST_F(Transport, DeadlinePassingEndsTheCallWithDeadlineExceeded) {
  auto started = std::chrono::steady_clock::now();
  auto a = call(address_, "slow", "x", 200);
  EXPECT_EQ(a.status, SKIFF_ERR_DEADLINE_EXCEEDED) << a.message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  // The transport stays usable afterwards.
  auto b = call(address_, "after", "y");
  ASSERT_EQ(b.status, SKIFF_OK) << b.message;
  EXPECT_EQ(b.body, "y");
}

TEST_F(Transport, UnreachablePeerIsUnavailable) {
  auto a = call("127.0.0.1:1", "x", "hello");  // port 1: nothing listens there
  EXPECT_EQ(a.status, SKIFF_ERR_UNAVAILABLE) << a.message;
}

TEST_F(Transport, PortInUseIsRefused) {
  auto other = TransportInstance::create(*component_, host_.api(), config_);
  ASSERT_TRUE(other.ok());
  auto port = (*other)->listen("127.0.0.1", static_cast<uint16_t>(std::stoi(address_.substr(10))),
                               &handler_);
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.error().message.find("cannot listen"), std::string::npos);
}

TEST_F(Transport, UnknownConfigKeyIsRejected) {
  auto table = toml::parse(std::string_view("speed = 1\n"), std::string("t.toml"));
  auto t = TransportInstance::create(*component_, host_.api(), table);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("transport.config.speed: unknown key"), std::string::npos)
      << t.error().message;
}

}  // namespace
}  // namespace skiff
