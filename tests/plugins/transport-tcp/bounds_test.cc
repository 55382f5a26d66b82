// transport-tcp's internal port is bounded: a peer that sends no head, drips one, stalls a
// body or opens too many connections is cut off, through real sockets on 127.0.0.1 against the
// plugin's listener. Timeouts are shortened by configuration; every wait is on a condition
// (the server closing the socket, a read failing, a log line) with a bound.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "log_throttle.hpp"
#include "transport_fixture.hpp"
#include "wire.hpp"

namespace skiff {
namespace {

namespace wire = tcp_transport::wire;
using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// A call head frame as a caller sidecar sends it.
std::string head_frame(const std::string& method) {
  skiff_call_head_t h{};
  h.struct_size = sizeof h;
  h.target_app_id = {"cart", 4};
  h.method = {method.data(), method.size()};
  h.verb = {"PUT", 3};
  std::string out;
  wire::append_call_head(out, h);
  return out;
}

std::string frame_header(wire::FrameType type, uint32_t length) {
  uint8_t header[wire::kFrameHeaderSize];
  wire::put_frame_header(header, type, length);
  return std::string(reinterpret_cast<char*>(header), sizeof header);
}

// Whether the peer closes the socket within `ms`: a read returns 0 or fails. Bytes the server
// sends meanwhile are dropped.
bool closed_within(int fd, int ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, left) == 0) return false;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
}

// The server side of the tests: a transport from a test-specific configuration, whose callee
// records every body read, and whose log lines are kept.
class TcpBounds : public ::testing::Test {
 protected:
  void start(std::string_view config_text) {
    config_ = toml::parse(config_text, std::string("t.toml"));
    api_ = *host_.api();
    api_.log = &TcpBounds::keep_log;  // the other services stay the host's
    catalog_ = PluginCatalog::discover({TRANSPORT_PLUGIN_DIR}, &api_);
    const auto* component = catalog_.find(SKIFF_KIND_TRANSPORT, "tcp");
    ASSERT_NE(component, nullptr);
    auto t = TransportInstance::create(*component, &api_, config_);
    ASSERT_TRUE(t.ok()) << t.error().message;
    transport_ = *t;
    handler_ = {sizeof(skiff_inbound_handler_t), this,
                [](void* self, skiff_server_call_t* call, const skiff_call_head_t*) {
                  auto* test = static_cast<TcpBounds*>(self);
                  asio::co_spawn(asio::make_strand(test->io_),
                                 test->serve(test->transport_->adopt(call)), asio::detached);
                }};
    auto port = transport_->listen("127.0.0.1", 0, &handler_);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    runner_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (transport_) asio::co_spawn(io_, transport_->shutdown(), asio::use_future).get();
    work_.reset();
    io_.stop();
    if (runner_.joinable()) runner_.join();
    std::lock_guard lock(log_mu_);
    log_lines_.clear();
  }

  // Reads the body, recording each read, and answers "ok" unless a read failed.
  asio::awaitable<void> serve(ServerCall call) {
    for (;;) {
      auto r = co_await call.read();
      {
        std::lock_guard lock(mu_);
        reads_.push_back(r);
      }
      cv_.notify_all();
      if (r.status != SKIFF_OK) co_return;
      if (r.end_of_body) break;
    }
    co_await call.write_head(ResponseHead{200, {}});
    co_await call.write("ok", true);
  }

  // Waits for a failed body read and returns it.
  std::optional<ReadResult> failed_read(int ms) {
    std::unique_lock lock(mu_);
    std::optional<ReadResult> failed;
    cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] {
      for (const auto& r : reads_)
        if (r.status != SKIFF_OK) failed = r;
      return failed.has_value();
    });
    return failed;
  }

  int connect_raw() const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
  }

  // One whole call with an empty body over `fd`; true when the answer arrived whole.
  static bool raw_call(int fd, bool preface) {
    std::string bytes = preface ? std::string(wire::kPreface) : std::string();
    bytes += head_frame("m") + frame_header(wire::kDataEnd, 0);
    if (::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size()))
      return false;
    std::string got;
    auto deadline = Clock::now() + std::chrono::seconds(5);
    bool head = false;
    for (;;) {
      while (got.size() >= wire::kFrameHeaderSize) {
        auto fh = wire::parse_frame_header(reinterpret_cast<const uint8_t*>(got.data()));
        if (got.size() < wire::kFrameHeaderSize + fh.length) break;
        if (fh.type == wire::kResponseHead) head = true;
        if (fh.type == wire::kDataEnd) return head;
        if (fh.type == wire::kFail) return false;
        got.erase(0, wire::kFrameHeaderSize + fh.length);
      }
      pollfd p{fd, POLLIN, 0};
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (left <= 0 || ::poll(&p, 1, left) <= 0) return false;
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      got.append(buf, static_cast<size_t>(n));
    }
  }

  static void send_bytes(int fd, std::string_view bytes) {
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  // Waits for a log line containing `part`; returns the number of such lines then.
  static size_t log_lines_with(std::string_view part, int ms) {
    std::unique_lock lock(log_mu_);
    size_t n = 0;
    log_cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] {
      n = 0;
      for (const auto& l : log_lines_) n += l.find(part) != std::string::npos;
      return n > 0;
    });
    return n;
  }
  static std::vector<std::string> log_lines() {
    std::lock_guard lock(log_mu_);
    return log_lines_;
  }

  static void keep_log(void*, int32_t level, skiff_str_t, skiff_str_t message) {
    if (level < SKIFF_LOG_WARN) return;
    {
      std::lock_guard lock(log_mu_);
      log_lines_.emplace_back(message.ptr, message.len);
    }
    log_cv_.notify_all();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  HostServices host_{io_};
  skiff_host_api_t api_{};
  PluginCatalog catalog_;
  toml::table config_;
  std::shared_ptr<TransportInstance> transport_;
  skiff_inbound_handler_t handler_{};
  uint16_t port_ = 0;
  std::thread runner_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReadResult> reads_;

  static inline std::mutex log_mu_;
  static inline std::condition_variable log_cv_;
  static inline std::vector<std::string> log_lines_;
};

TEST_F(TcpBounds, AConnectionThatSendsNothingIsClosedAfterTheHeadTimeout) {
  start("head_timeout = \"300ms\"\n");
  auto t0 = Clock::now();
  int fd = connect_raw();
  EXPECT_TRUE(closed_within(fd, 5000));
  EXPECT_GE(ms_since(t0), 300);
  ::close(fd);
}

TEST_F(TcpBounds, APrefaceWithoutAHeadIsClosedAfterTheHeadTimeout) {
  start("head_timeout = \"300ms\"\n");
  auto t0 = Clock::now();
  int fd = connect_raw();
  send_bytes(fd, wire::kPreface);
  EXPECT_TRUE(closed_within(fd, 5000));
  EXPECT_GE(ms_since(t0), 300);
  ::close(fd);
}

TEST_F(TcpBounds, AHeadDrippedByteByByteIsClosedOnceTheHeadTimeoutPasses) {
  start("head_timeout = \"500ms\"\n");
  // At one byte per 50 ms this takes seconds: every byte is progress, yet the head is late.
  std::string bytes = std::string(wire::kPreface) + head_frame(std::string(80, 'm'));
  auto t0 = Clock::now();
  int fd = connect_raw();
  size_t sent = 0;
  bool closed = false;
  while (sent < bytes.size() && !closed) {
    if (::send(fd, bytes.data() + sent, 1, MSG_NOSIGNAL) != 1) break;  // reset by the server
    ++sent;
    closed = closed_within(fd, 50);  // the drip's pace, cut short by the close
  }
  EXPECT_TRUE(closed || closed_within(fd, 5000));
  EXPECT_LT(sent, bytes.size());
  EXPECT_GE(ms_since(t0), 500);
  ::close(fd);
}

TEST_F(TcpBounds, ANextHeadDrippedOnAKeptConnectionGetsTheHeadTimeoutNotTheIdleOne) {
  start("head_timeout = \"300ms\"\nidle_timeout = \"20s\"\n");
  int fd = connect_raw();
  ASSERT_TRUE(raw_call(fd, true));
  std::string bytes = head_frame(std::string(80, 'm'));
  auto t0 = Clock::now();
  size_t sent = 0;
  bool closed = false;
  while (sent < bytes.size() && !closed) {
    if (::send(fd, bytes.data() + sent, 1, MSG_NOSIGNAL) != 1) break;
    ++sent;
    closed = closed_within(fd, 50);
  }
  EXPECT_TRUE(closed || closed_within(fd, 5000));
  EXPECT_LT(sent, bytes.size());
  EXPECT_GE(ms_since(t0), 300);
  EXPECT_LT(ms_since(t0), 10000);  // far from the idle timeout
  ::close(fd);
}

TEST_F(TcpBounds, AnIdleConnectionOutlivesTheHeadTimeoutAndClosesAfterTheIdleTimeout) {
  start("head_timeout = \"200ms\"\nidle_timeout = \"1s\"\n");
  int fd = connect_raw();
  ASSERT_TRUE(raw_call(fd, true));
  auto t0 = Clock::now();
  EXPECT_FALSE(closed_within(fd, 600));  // three head timeouts: waiting for a call is not late
  ASSERT_TRUE(raw_call(fd, false));      // and it still serves
  t0 = Clock::now();
  EXPECT_TRUE(closed_within(fd, 5000));
  // The idle wait starts when the server is done with the call, which can be a moment before
  // the answer is read here.
  EXPECT_GE(ms_since(t0), 900);
  ::close(fd);
}

TEST_F(TcpBounds, ABodyThatStallsFailsTheServerCallsReadAndClosesTheConnection) {
  start("body_timeout = \"300ms\"\n");
  int fd = connect_raw();
  // A data frame declaring 100 bytes, of which 10 come; then nothing.
  auto t0 = Clock::now();
  send_bytes(fd, std::string(wire::kPreface) + head_frame("stall") +
                     frame_header(wire::kData, 100) + std::string(10, 'x'));
  auto failed = failed_read(5000);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->status, SKIFF_ERR_DEADLINE_EXCEEDED) << failed->message;
  EXPECT_NE(failed->message.find("body_timeout"), std::string::npos) << failed->message;
  EXPECT_GE(ms_since(t0), 300);
  {
    std::lock_guard lock(mu_);
    ASSERT_GE(reads_.size(), 2u);
    EXPECT_EQ(reads_[0].chunk, std::string(10, 'x'));  // what came was delivered
  }
  EXPECT_TRUE(closed_within(fd, 5000));
  ::close(fd);
}

TEST_F(TcpBounds, ABodyThatKeepsMovingIsNotCut) {
  start("body_timeout = \"300ms\"\n");
  int fd = connect_raw();
  send_bytes(fd, std::string(wire::kPreface) + head_frame("slow body"));
  // Six pieces 100 ms apart: 600 ms in all, but never 300 ms without a byte.
  for (int i = 0; i < 6; ++i) {
    send_bytes(fd, frame_header(wire::kData, 1) + "x");
    EXPECT_FALSE(closed_within(fd, 100));
  }
  send_bytes(fd, frame_header(wire::kDataEnd, 0));
  EXPECT_FALSE(failed_read(200).has_value());
  ::close(fd);
}

TEST_F(TcpBounds, TheConnectionLimitRefusesOneMoreUntilOneCloses) {
  start("max_connections = 3\n");
  int held[3];
  for (int& fd : held) {
    fd = connect_raw();
    ASSERT_TRUE(raw_call(fd, true));  // accepted and served, so counted
  }
  int extra = connect_raw();
  EXPECT_TRUE(closed_within(extra, 5000));
  ::close(extra);
  EXPECT_EQ(log_lines_with("refused 1 connection to 127.0.0.1:" + std::to_string(port_), 5000), 1u);
  auto lines = log_lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("3 connections are open"), std::string::npos) << lines.back();
  EXPECT_NE(lines.back().find("transport.config.max_connections"), std::string::npos);

  ::close(held[0]);
  // The server notices the close on its own time: try until a new connection is served.
  bool served = false;
  for (auto t0 = Clock::now(); !served && ms_since(t0) < 5000;) {
    int fd = connect_raw();
    served = raw_call(fd, true);
    if (served)
      held[0] = fd;
    else
      ::close(fd);
  }
  EXPECT_TRUE(served);
  EXPECT_TRUE(raw_call(held[1], false));  // the others were left alone
  for (int fd : held) ::close(fd);
}

TEST_F(TcpBounds, RefusalsAreLoggedAtMostOncePerIntervalWithTheirCount) {
  start("max_connections = 1\n");
  int held = connect_raw();
  ASSERT_TRUE(raw_call(held, true));
  for (int i = 0; i < 5; ++i) {
    int fd = connect_raw();
    EXPECT_TRUE(closed_within(fd, 5000));
    ::close(fd);
  }
  EXPECT_EQ(log_lines_with("refused 1 connection", 5000), 1u);
  // The four held back are reported once the interval is over, without a further refusal.
  EXPECT_EQ(log_lines_with("refused 4 connections", 10000), 1u);
  size_t refusals = 0;
  for (const auto& l : log_lines()) refusals += l.find("refused") != std::string::npos;
  EXPECT_EQ(refusals, 2u);
  ::close(held);
}

TEST_F(TcpBounds, BadBoundsSettingsAreRejectedNamingTheKey) {
  struct Case {
    const char* toml;
    const char* error;
  } cases[] = {
      {"head_timeout = \"0s\"\n", "transport.config.head_timeout: must be more than 0"},
      {"idle_timeout = true\n", "transport.config.idle_timeout: expected a duration"},
      {"body_timeout = \"25h\"\n", "transport.config.body_timeout: must be at most 24h"},
      {"max_connections = 0\n", "transport.config.max_connections: must be from 1 to"},
      {"max_connections = \"many\"\n", "transport.config.max_connections: expected an integer"},
  };
  auto catalog = PluginCatalog::discover({TRANSPORT_PLUGIN_DIR}, host_.api());
  const auto* component = catalog.find(SKIFF_KIND_TRANSPORT, "tcp");
  ASSERT_NE(component, nullptr);
  for (const auto& c : cases) {
    auto table = toml::parse(std::string_view(c.toml), std::string("t.toml"));
    auto t = TransportInstance::create(*component, host_.api(), table);
    ASSERT_FALSE(t.ok()) << c.toml;
    EXPECT_NE(t.error().message.find(c.error), std::string::npos) << t.error().message;
  }
  auto fine = toml::parse(std::string_view("head_timeout = \"2s\"\nidle_timeout = 90000\n"
                                           "body_timeout = 0\nmax_connections = 50\n"),
                          std::string("t.toml"));
  EXPECT_TRUE(TransportInstance::create(*component, host_.api(), fine).ok());
}

TEST(TcpLogThrottle, OneLinePerIntervalCountingWhatWasHeldBack) {
  tcp_transport::LogThrottle throttle(5000);
  auto first = throttle.note(0, "a");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->count, 1u);
  EXPECT_FALSE(throttle.note(1000, "b").has_value());
  EXPECT_FALSE(throttle.note(2000, "c").has_value());
  EXPECT_FALSE(throttle.flush(4999).has_value());
  auto tail = throttle.flush(5000);
  ASSERT_TRUE(tail.has_value());
  EXPECT_EQ(tail->count, 2u);
  EXPECT_EQ(tail->detail, "c");
  EXPECT_FALSE(throttle.flush(20000).has_value());  // nothing held back
  EXPECT_FALSE(throttle.note(9000, "d").has_value());
  auto next = throttle.note(10000, "e");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->count, 2u);
}

}  // namespace
}  // namespace skiff
