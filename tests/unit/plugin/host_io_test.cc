// The ABI 1.1 socket functions of the host table, on a real socket pair and a real io_context.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "plugin/host_services.hpp"

namespace skiff {
namespace {

struct Done {
  int calls = 0;
  skiff_status_t status = -1;
  size_t size = 0;
  std::string message;
  static void fn(void* ud, skiff_status_t status, size_t size, skiff_str_t message) {
    auto* d = static_cast<Done*>(ud);
    ++d->calls;
    d->status = status;
    d->size = size;
    d->message.assign(message.ptr, message.len);
  }
};

class HostIo : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
    char why[128] = "";
    io_ = api()->io_open(api()->host, fds_[0], skiff_errbuf_t{why, sizeof why});
    ASSERT_NE(io_, nullptr) << why;
  }
  void TearDown() override {
    if (io_) api()->io_close(io_);
    ::close(fds_[1]);
  }
  const skiff_host_api_t* api() const { return host_.api(); }
  // Runs the loop until `done` has fired.
  void run_until(const Done& done) {
    while (done.calls == 0 && loop_.run_one() > 0) {
    }
    loop_.restart();
  }

  boost::asio::io_context loop_;
  HostServices host_{loop_};
  int fds_[2] = {-1, -1};
  skiff_io_t* io_ = nullptr;
};

TEST_F(HostIo, GatheredWriteAndReadCompleteOnTheLoopNeverInline) {
  std::string a = "hello ", b = "world";
  skiff_bytes_t pieces[] = {{reinterpret_cast<const uint8_t*>(a.data()), a.size()},
                            {reinterpret_cast<const uint8_t*>(b.data()), b.size()}};
  Done wrote;
  api()->io_write(io_, pieces, 2, &Done::fn, &wrote);
  EXPECT_EQ(wrote.calls, 0);  // never inside the call
  run_until(wrote);
  ASSERT_EQ(wrote.status, SKIFF_OK) << wrote.message;
  EXPECT_EQ(wrote.size, 11u);
  char got[32] = {};
  EXPECT_EQ(::read(fds_[1], got, sizeof got), 11);
  EXPECT_EQ(std::string(got), "hello world");

  char buf[16];
  Done read;
  api()->io_read(io_, buf, sizeof buf, &Done::fn, &read);
  EXPECT_EQ(read.calls, 0);
  ASSERT_EQ(::write(fds_[1], "pong", 4), 4);
  run_until(read);
  ASSERT_EQ(read.status, SKIFF_OK);
  EXPECT_EQ(std::string(buf, read.size), "pong");
}

TEST_F(HostIo, PeerCloseIsAZeroByteRead) {
  ::close(fds_[1]);
  fds_[1] = ::dup(2);  // something TearDown may close
  char buf[4];
  Done read;
  api()->io_read(io_, buf, sizeof buf, &Done::fn, &read);
  run_until(read);
  EXPECT_EQ(read.status, SKIFF_OK);
  EXPECT_EQ(read.size, 0u);
}

TEST_F(HostIo, CancelAndCloseCompleteOutstandingOperationsOnce) {
  char buf[4];
  Done read;
  api()->io_read(io_, buf, sizeof buf, &Done::fn, &read);
  api()->io_cancel(io_);
  run_until(read);
  EXPECT_EQ(read.status, SKIFF_ERR_CANCELLED);
  EXPECT_EQ(read.calls, 1);

  Done waited;
  api()->io_wait(io_, SKIFF_IO_READABLE, &Done::fn, &waited);
  api()->io_close(io_);
  io_ = nullptr;
  run_until(waited);
  EXPECT_EQ(waited.status, SKIFF_ERR_CANCELLED);
  EXPECT_EQ(waited.calls, 1);
}

TEST_F(HostIo, EmptyOperationsAreRefusedNotMistakenForEndOfStream) {
  char buf[1];
  Done read;
  api()->io_read(io_, buf, 0, &Done::fn, &read);
  EXPECT_EQ(read.calls, 0);
  run_until(read);
  EXPECT_EQ(read.status, SKIFF_ERR_INVALID_ARGUMENT);
  Done wrote;
  api()->io_write(io_, nullptr, 0, &Done::fn, &wrote);
  run_until(wrote);
  EXPECT_EQ(wrote.status, SKIFF_ERR_INVALID_ARGUMENT);
}

TEST_F(HostIo, ANonSocketIsRefusedAndStaysWithTheCaller) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  char why[128] = "";
  EXPECT_EQ(api()->io_open(api()->host, pipe_fds[0], skiff_errbuf_t{why, sizeof why}), nullptr);
  EXPECT_NE(std::string(why).find("socket"), std::string::npos) << why;
  EXPECT_EQ(::close(pipe_fds[0]), 0);  // still ours
  ::close(pipe_fds[1]);
}

}  // namespace
}  // namespace skiff
