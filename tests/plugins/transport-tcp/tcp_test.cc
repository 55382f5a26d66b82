// transport-tcp beyond the common conformance tests: what it does with bytes that are not its
// protocol, that it keeps connections for the next call, and its wire format's parsers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "transport_fixture.hpp"
#include "wire.hpp"

namespace skiff {
namespace {

namespace wire = tcp_transport::wire;

class TcpTransport : public Transport {
 protected:
  uint16_t port() const { return static_cast<uint16_t>(std::stoi(address_.substr(10))); }

  // Connects a plain socket, sends `bytes`, and returns what the server answers until it
  // closes the connection (a receive timeout fails the wait instead of hanging).
  std::string send_raw(const std::string& bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval limit{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
    std::string got;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
    closed_by_peer_ = n == 0;
    ::close(fd);
    return got;
  }
  bool closed_by_peer_ = false;
};

size_t open_descriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST_F(TcpTransport, AnHttpRequestIsNotAPrefaceAndIsClosed) {
  auto got = send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(closed_by_peer_);
  EXPECT_EQ(got, "");
  auto a = call(address_, "still", "serving");
  ASSERT_EQ(a.status, SKIFF_OK) << a.message;
  EXPECT_EQ(a.body, "serving");
}

TEST_F(TcpTransport, AnOversizedHeadFrameIsClosedWithoutAllocatingIt) {
  std::string bytes(wire::kPreface);
  uint8_t header[wire::kFrameHeaderSize];
  wire::put_frame_header(header, wire::kCallHead, 0x7fffffff);
  bytes.append(reinterpret_cast<char*>(header), sizeof header);
  send_raw(bytes);
  EXPECT_TRUE(closed_by_peer_);
}

TEST_F(TcpTransport, AMalformedHeadIsClosed) {
  std::string bytes(wire::kPreface);
  uint8_t header[wire::kFrameHeaderSize];
  wire::put_frame_header(header, wire::kCallHead, 3);
  bytes.append(reinterpret_cast<char*>(header), sizeof header);
  bytes += "abc";  // not even a timeout field
  send_raw(bytes);
  EXPECT_TRUE(closed_by_peer_);
}

TEST_F(TcpTransport, AFailureAfterTheAnswerStartedReachesTheCallerWithItsStatus) {
  auto a = call(address_, "fail-late", "x");
  EXPECT_EQ(a.status, SKIFF_ERR_UNAVAILABLE) << a.message;
  EXPECT_EQ(a.message, "the app went away mid-answer");
  auto b = call(address_, "after", "y");  // and the transport goes on
  ASSERT_EQ(b.status, SKIFF_OK) << b.message;
}

TEST_F(TcpTransport, AnAnswerSentBeforeTheRequestWasReadStillArrives) {
  // The callee answers at once and never reads the 4 MiB body: the answer reaches the caller
  // (whose last writes may fail), and the connection is closed, not reused with body bytes in it.
  auto a = call(address_, "early", std::string(4 << 20, 'x'));
  ASSERT_EQ(a.status, SKIFF_OK) << a.message;
  EXPECT_EQ(a.http_status, 413);
  EXPECT_EQ(a.body, "too large");
  auto b = call(address_, "after", "y");
  ASSERT_EQ(b.status, SKIFF_OK) << b.message;
}

TEST_F(TcpTransport, APeerAddressByNameIsLookedUpOffTheLoop) {
  auto a = call("localhost:" + std::to_string(port()), "named", "by name");
  ASSERT_EQ(a.status, SKIFF_OK) << a.message;
  EXPECT_EQ(a.body, "by name");
  auto bad = call("no-such-host.invalid:" + std::to_string(port()), "x", "y");
  EXPECT_EQ(bad.status, SKIFF_ERR_UNAVAILABLE) << bad.message;
  EXPECT_NE(bad.message.find("cannot resolve no-such-host.invalid"), std::string::npos)
      << bad.message;
}

TEST_F(TcpTransport, SequentialCallsUseOneConnection) {
  ASSERT_EQ(call(address_, "warm", "up").status, SKIFF_OK);
  size_t before = open_descriptors();
  for (int i = 0; i < 100; ++i) ASSERT_EQ(call(address_, "again", "x").status, SKIFF_OK);
  EXPECT_LE(open_descriptors(), before + 1);  // no connection per call
}

TEST_F(TcpTransport, UnknownConfigKeysAndBadValuesAreRejected) {
  auto table = toml::parse(std::string_view("max_idle_connections = -1\n"), std::string("t.toml"));
  auto t = TransportInstance::create(*component_, host_.api(), table);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("transport.config.max_idle_connections: must be 0 or more"),
            std::string::npos)
      << t.error().message;
}

TEST(TcpWire, CallHeadRoundTrips) {
  skiff_header_t headers[] = {{{"a", 1}, {"1", 1}}, {{"b", 1}, {"", 0}}};
  skiff_call_head_t h{};
  h.struct_size = sizeof h;
  h.target_app_id = {"cart", 4};
  h.method = {"items/1", 7};
  h.verb = {"GET", 3};
  h.headers = headers;
  h.header_count = 2;
  h.timeout_ms = 1500;
  std::string frame;
  wire::append_call_head(frame, h);
  auto fh = wire::parse_frame_header(reinterpret_cast<const uint8_t*>(frame.data()));
  EXPECT_EQ(fh.type, wire::kCallHead);
  ASSERT_EQ(fh.length, frame.size() - wire::kFrameHeaderSize);
  wire::CallHead out;
  ASSERT_TRUE(wire::parse_call_head(std::string_view(frame).substr(wire::kFrameHeaderSize), out));
  EXPECT_EQ(std::string_view(out.c.method.ptr, out.c.method.len), "items/1");
  EXPECT_EQ(out.c.timeout_ms, 1500u);
  ASSERT_EQ(out.c.header_count, 2u);
  EXPECT_EQ(std::string_view(out.headers[1].name.ptr, out.headers[1].name.len), "b");
}

TEST(TcpWire, TruncatedAndLyingPayloadsAreRejected) {
  skiff_response_head_t r{sizeof r, 200, nullptr, 0};
  std::string frame;
  wire::append_response_head(frame, r);
  std::string_view payload = std::string_view(frame).substr(wire::kFrameHeaderSize);
  wire::ResponseHead out;
  ASSERT_TRUE(wire::parse_response_head(payload, out));
  for (size_t cut = 0; cut < payload.size(); ++cut)
    EXPECT_FALSE(wire::parse_response_head(payload.substr(0, cut), out)) << cut;
  // A header count far beyond what the payload could hold.
  std::string lying("\0\0\0\xc8\xff\xff\xff\xff", 8);
  EXPECT_FALSE(wire::parse_response_head(lying, out));
  skiff_status_t status;
  std::string_view message;
  std::string fail;
  wire::append_fail(fail, SKIFF_ERR_PERMISSION_DENIED, "no");
  ASSERT_TRUE(
      wire::parse_fail(std::string_view(fail).substr(wire::kFrameHeaderSize), status, message));
  EXPECT_EQ(status, SKIFF_ERR_PERMISSION_DENIED);
  EXPECT_EQ(message, "no");
  EXPECT_FALSE(wire::parse_fail(std::string_view("\0\0\0\0\0\0\0\0", 8), status, message));
}

}  // namespace
}  // namespace skiff
