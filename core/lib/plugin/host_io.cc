#include "plugin/host_io.hpp"

#include <sys/socket.h>

#include <array>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <string>

#include "plugin/host_services.hpp"

// The ABI's opaque socket handle: an Asio socket on the host's io_context. Asio's socket
// operations send with MSG_NOSIGNAL, so a peer that went away never raises SIGPIPE.
struct skiff_io_t {
  explicit skiff_io_t(boost::asio::io_context& io) : socket(io) {}
  boost::asio::generic::stream_protocol::socket socket;
};

namespace skiff {
namespace {

namespace asio = boost::asio;

// The pieces of one gathered write, as an Asio buffer sequence without a heap allocation.
struct Pieces {
  std::array<asio::const_buffer, SKIFF_IO_MAX_PIECES> buffers;
  size_t count = 0;
  const asio::const_buffer* begin() const { return buffers.data(); }
  const asio::const_buffer* end() const { return buffers.data() + count; }
};

// Runs `done` with the ABI's status for an Asio outcome.
void finish(skiff_io_done_fn done, void* user_data, const boost::system::error_code& ec,
            size_t size) {
  if (!ec) return done(user_data, SKIFF_OK, size, skiff_str_t{"", 0});
  if (ec == asio::error::eof) return done(user_data, SKIFF_OK, 0, skiff_str_t{"", 0});
  if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
    return done(user_data, SKIFF_ERR_CANCELLED, 0, skiff_str_t{"cancelled", 9});
  std::string why = ec.message();
  done(user_data, SKIFF_ERR_UNAVAILABLE, size, skiff_str_t{why.data(), why.size()});
}

skiff_io_t* io_open(void* host, int fd, skiff_errbuf_t err) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int type = 0;
  socklen_t type_len = sizeof type;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0) {
    skiff_errbuf_set(err, (std::string("not a socket: ") + std::strerror(errno)).c_str());
    return nullptr;
  }
  if (type != SOCK_STREAM) {
    skiff_errbuf_set(err, "not a stream socket");
    return nullptr;
  }
  auto* io = new skiff_io_t(static_cast<HostServices*>(host)->io());
  boost::system::error_code ec;
  io->socket.assign(asio::generic::stream_protocol(addr.ss_family, 0), fd, ec);
  if (!ec) io->socket.non_blocking(true, ec);
  if (ec) {
    skiff_errbuf_set(err, ec.message().c_str());
    io->socket.release(ec);  // the caller keeps its descriptor on failure
    delete io;
    return nullptr;
  }
  return io;
}

void io_wait(skiff_io_t* io, int32_t readiness, skiff_io_done_fn done, void* user_data) {
  auto wait =
      readiness == SKIFF_IO_WRITABLE ? asio::socket_base::wait_write : asio::socket_base::wait_read;
  io->socket.async_wait(wait, [done, user_data](const boost::system::error_code& ec) {
    finish(done, user_data, ec, 0);
  });
}

// Completes an operation that cannot start, on a loop thread as the contract promises.
void refuse(skiff_io_t* io, skiff_io_done_fn done, void* user_data, const char* why) {
  asio::post(io->socket.get_executor(), [done, user_data, why] {
    done(user_data, SKIFF_ERR_INVALID_ARGUMENT, 0, skiff_str_t{why, std::strlen(why)});
  });
}

void io_read(skiff_io_t* io, void* buf, size_t cap, skiff_io_done_fn done, void* user_data) {
  // A zero-byte read would complete with 0 bytes, which means end of stream.
  if (cap == 0) return refuse(io, done, user_data, "io_read needs room for at least one byte");
  io->socket.async_read_some(asio::buffer(buf, cap),
                             [done, user_data](const boost::system::error_code& ec, size_t n) {
                               finish(done, user_data, ec, n);
                             });
}

void io_write(skiff_io_t* io, const skiff_bytes_t* pieces, size_t count, skiff_io_done_fn done,
              void* user_data) {
  if (count > SKIFF_IO_MAX_PIECES)
    return refuse(io, done, user_data, "too many pieces in one io_write");
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += pieces[i].len;
  if (total == 0) return refuse(io, done, user_data, "io_write needs at least one byte");
  Pieces p;
  for (size_t i = 0; i < count; ++i)
    p.buffers[i] = asio::const_buffer(pieces[i].ptr, pieces[i].len);
  p.count = count;
  io->socket.async_write_some(p, [done, user_data](const boost::system::error_code& ec, size_t n) {
    finish(done, user_data, ec, n);
  });
}

void io_cancel(skiff_io_t* io) {
  boost::system::error_code ignored;
  io->socket.cancel(ignored);
}

void io_close(skiff_io_t* io) {
  boost::system::error_code ignored;
  io->socket.close(ignored);  // outstanding operations complete with operation_aborted
  delete io;
}

}  // namespace

void fill_io_functions(skiff_host_api_t& api) {
  api.io_open = io_open;
  api.io_wait = io_wait;
  api.io_read = io_read;
  api.io_write = io_write;
  api.io_cancel = io_cancel;
  api.io_close = io_close;
}

}  // namespace skiff
