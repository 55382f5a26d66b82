// transport-tcp's Connection reading frames from a socket pair through the host's real socket
// I/O: its read buffer grows with the bytes that arrived, never with the length a frame header
// declares, and still reads a fast body in large pieces.
#include "connection.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "plugin/host_services.hpp"
#include "wire.hpp"

namespace skiff {
namespace {

namespace wire = tcp_transport::wire;
using tcp_transport::Connection;

std::string frame_header(wire::FrameType type, uint32_t length) {
  uint8_t header[wire::kFrameHeaderSize];
  wire::put_frame_header(header, type, length);
  return std::string(reinterpret_cast<char*>(header), sizeof header);
}

// Records what the connection delivers; with `keep_reading`, asks for the next body piece from
// the completion, as the host's continuation does.
class Owner : public tcp_transport::ConnectionOwner {
 public:
  struct Event {
    skiff_status_t status;
    uint8_t type;  // 0 for a preface or a body piece
    size_t size;
    bool end;
  };

  void on_frame(skiff_status_t status, uint8_t type, std::string_view payload,
                std::string_view) override {
    push({status, type, payload.size(), false});
  }
  void on_body(skiff_status_t status, std::string_view piece, bool end, std::string_view) override {
    if (keep_reading && status == SKIFF_OK) {
      body_bytes += piece.size();
      largest_piece = std::max(largest_piece, piece.size());
      if (!end) return conn->read_body();
    }
    push({status, 0, piece.size(), end});
  }
  void on_written(skiff_status_t, std::string_view) override {}

  // The next event, waiting at most 5 s.
  std::optional<Event> next() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(5), [&] { return !events_.empty(); }))
      return std::nullopt;
    Event e = events_.front();
    events_.erase(events_.begin());
    return e;
  }

  Connection* conn = nullptr;
  bool keep_reading = false;
  size_t body_bytes = 0, largest_piece = 0;  // with keep_reading, read after the end event

 private:
  void push(Event e) {
    {
      std::lock_guard lock(mu_);
      events_.push_back(e);
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

class TcpConnection : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0);
    ::fcntl(fds_[0], F_SETFL, ::fcntl(fds_[0], F_GETFL) | O_NONBLOCK);  // the host's side
    const auto* api = host_.api();
    char why[256] = "";
    skiff_io_t* io = api->io_open(api->host, fds_[0], skiff_errbuf_t{why, sizeof why});
    ASSERT_NE(io, nullptr) << why;
    conn_ = std::make_unique<Connection>(api, io, fds_[0]);
    owner_.conn = conn_.get();
    conn_->set_owner(&owner_);
    runner_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (reading_) {  // nothing may be outstanding when the connection goes
      conn_->cancel();
      owner_.next();
    }
    conn_.reset();
    ::close(fds_[1]);
    work_.reset();
    io_.stop();
    if (runner_.joinable()) runner_.join();
  }

  // Sends bytes from the peer's side, then waits until the connection has received all sent so
  // far. A second, one-byte feed proves that the reaction to the first (a buffer growth, say)
  // has happened: its read can only start after that.
  void feed(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fds_[1], bytes.data(), bytes.size(), MSG_NOSIGNAL);
      ASSERT_GT(n, 0);
      sent_ += static_cast<size_t>(n);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (conn_->received() < sent_) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the connection read nothing";
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polls the condition
    }
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  HostServices host_{io_};
  int fds_[2] = {-1, -1};
  Owner owner_;
  std::unique_ptr<Connection> conn_;
  std::thread runner_;
  size_t sent_ = 0;
  bool reading_ = false;
};

TEST_F(TcpConnection, AHeadFrameGrowsTheBufferWithTheBytesThatArriveNotItsDeclaredLength) {
  conn_->read_preface();
  feed(wire::kPreface);
  auto preface = owner_.next();
  ASSERT_TRUE(preface && preface->status == SKIFF_OK);

  constexpr uint32_t kDeclared = wire::kMaxHeadFrame;  // 1 MiB, the most a head may declare
  reading_ = true;
  conn_->read_frame();
  feed(frame_header(wire::kCallHead, kDeclared) + std::string(10, 'h'));
  feed("h");
  EXPECT_EQ(conn_->capacity(), Connection::kSmallBuffer);

  // As the head arrives, the buffer doubles behind it: never more than twice what came.
  std::string more(200 * 1024, 'h');
  feed(more);
  feed("h");
  const size_t arrived = wire::kFrameHeaderSize + 10 + 1 + more.size() + 1;
  EXPECT_GT(conn_->capacity(), Connection::kSmallBuffer);
  EXPECT_LE(conn_->capacity(), 2 * arrived);

  feed(std::string(kDeclared - (arrived - wire::kFrameHeaderSize), 'h'));
  auto head = owner_.next();
  reading_ = false;
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, SKIFF_OK);
  EXPECT_EQ(head->type, wire::kCallHead);
  EXPECT_EQ(head->size, kDeclared);

  conn_->shrink();  // idle again: the oversized buffer goes back
  EXPECT_EQ(conn_->capacity(), Connection::kSmallBuffer);
}

TEST_F(TcpConnection, ADataFrameDeclaringSixteenMebibytesThenTenBytesAllocatesNothing) {
  reading_ = true;
  conn_->read_body();
  feed(frame_header(wire::kData, wire::kMaxDataFrame) + std::string(10, 'd'));
  auto piece = owner_.next();
  ASSERT_TRUE(piece.has_value());
  EXPECT_EQ(piece->status, SKIFF_OK);
  EXPECT_EQ(piece->size, 10u);
  conn_->read_body();
  feed("d");
  piece = owner_.next();
  ASSERT_TRUE(piece.has_value());
  EXPECT_EQ(piece->size, 1u);
  conn_->read_body();
  feed("d");  // the buffer was sized before this read started
  EXPECT_EQ(conn_->capacity(), Connection::kSmallBuffer);
  piece = owner_.next();
  ASSERT_TRUE(piece.has_value());
  conn_->read_body();  // left waiting: TearDown cancels it
}

TEST_F(TcpConnection, ABodyArrivingFasterThanItIsReadIsReadInLargerPieces) {
  constexpr size_t kBody = 4u << 20;
  owner_.keep_reading = true;
  reading_ = true;
  conn_->read_body();
  std::thread writer([this] {
    std::string bytes = frame_header(wire::kDataEnd, kBody) + std::string(kBody, 'b');
    std::string_view rest(bytes);
    while (!rest.empty()) {
      ssize_t n = ::send(fds_[1], rest.data(), rest.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      rest.remove_prefix(static_cast<size_t>(n));
    }
  });
  auto end = owner_.next();
  writer.join();
  reading_ = false;
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->status, SKIFF_OK);
  EXPECT_TRUE(end->end);
  EXPECT_EQ(owner_.body_bytes, kBody);
  EXPECT_GT(owner_.largest_piece, Connection::kSmallBuffer);
  EXPECT_GT(conn_->capacity(), Connection::kSmallBuffer);
  EXPECT_LE(conn_->capacity(), Connection::kLargeBuffer);
}

}  // namespace
}  // namespace skiff
