#include "plugin/host_io.hpp"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "common/call_executor.hpp"
#include "plugin/host_services.hpp"
#include "security/spiffe_id.hpp"

namespace {
namespace asio = boost::asio;
using Socket = asio::generic::stream_protocol::socket;
}  // namespace

// The ABI's opaque socket handle: an Asio socket on the host's io_context. Asio's socket
// operations send with MSG_NOSIGNAL, so a peer that went away never raises SIGPIPE.
//
// After io_start_tls the socket carries TLS. An SSL stream is one state machine for both
// directions, so its operations run on the socket's executor (a strand with several loop threads;
// io_read and io_write dispatch to it from wherever they are called), and they hold the stream
// (and so the socket) alive until they complete: io_close may come while they are outstanding.
struct skiff_io_t {
  struct Tls {
    Tls(Socket& socket, std::shared_ptr<asio::ssl::context> ctx)
        : context(std::move(ctx)), stream(socket, *context) {}
    std::shared_ptr<asio::ssl::context> context;  // the set it started with, kept over rotations
    asio::ssl::stream<Socket&> stream;
    std::string gathered;  // the pieces of one io_write, joined: TLS writes one buffer at a time
  };
  struct Shared {
    explicit Shared(const asio::any_io_executor& executor) : socket(executor) {}
    Socket socket;
    std::unique_ptr<Tls> tls;
    // Set once tls exists: io_cancel and io_close may run on another thread than io_start_tls.
    std::atomic<bool> tls_on{false};
    std::string peer_identity;
  };
  skiff_io_t(skiff::HostServices& host, const asio::any_io_executor& executor)
      : host(host), shared(std::make_shared<Shared>(executor)) {}
  skiff::HostServices& host;
  std::shared_ptr<Shared> shared;
  Socket& socket() { return shared->socket; }
};

namespace skiff {
namespace {

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
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
    return done(user_data, SKIFF_OK, 0, skiff_str_t{"", 0});
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
  auto& services = *static_cast<HostServices*>(host);
  // With mTLS a socket's operations must not run concurrently (see skiff_io_t): a strand, unless
  // there is one loop thread, which serialises them already. A plaintext socket needs neither.
  auto* io = services.workload_tls() ? new skiff_io_t(services, call_executor(services.io()))
                                     : new skiff_io_t(services, services.io().get_executor());
  boost::system::error_code ec;
  io->socket().assign(asio::generic::stream_protocol(addr.ss_family, 0), fd, ec);
  if (!ec) io->socket().non_blocking(true, ec);
  if (ec) {
    skiff_errbuf_set(err, ec.message().c_str());
    io->socket().release(ec);  // the caller keeps its descriptor on failure
    delete io;
    return nullptr;
  }
  return io;
}

void io_wait(skiff_io_t* io, int32_t readiness, skiff_io_done_fn done, void* user_data) {
  auto wait =
      readiness == SKIFF_IO_WRITABLE ? asio::socket_base::wait_write : asio::socket_base::wait_read;
  io->socket().async_wait(wait, [done, user_data](const boost::system::error_code& ec) {
    finish(done, user_data, ec, 0);
  });
}

// Completes an operation that cannot start, on a loop thread as the contract promises.
void refuse(skiff_io_t* io, skiff_io_done_fn done, void* user_data, const char* why) {
  asio::post(io->socket().get_executor(), [done, user_data, why] {
    done(user_data, SKIFF_ERR_INVALID_ARGUMENT, 0, skiff_str_t{why, std::strlen(why)});
  });
}

void io_read(skiff_io_t* io, void* buf, size_t cap, skiff_io_done_fn done, void* user_data) {
  // A zero-byte read would complete with 0 bytes, which means end of stream.
  if (cap == 0) return refuse(io, done, user_data, "io_read needs room for at least one byte");
  if (auto& shared = io->shared; shared->tls) {
    asio::dispatch(shared->socket.get_executor(), [shared, buf, cap, done, user_data] {
      shared->tls->stream.async_read_some(
          asio::buffer(buf, cap),
          [shared, done, user_data](const boost::system::error_code& ec, size_t n) {
            finish(done, user_data, ec, n);
          });
    });
    return;
  }
  io->socket().async_read_some(asio::buffer(buf, cap),
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
  if (auto& shared = io->shared; shared->tls) {
    // One buffer, so that the pieces of a gathered write go out in as few records as they fit.
    auto& gathered = shared->tls->gathered;
    gathered.clear();
    for (size_t i = 0; i < count; ++i)
      gathered.append(reinterpret_cast<const char*>(pieces[i].ptr), pieces[i].len);
    asio::dispatch(shared->socket.get_executor(), [shared, done, user_data] {
      // All of it, record after record, before the transport hears back: one round trip to the
      // transport per write, not one per 16 KiB record.
      asio::async_write(shared->tls->stream, asio::buffer(shared->tls->gathered),
                        [shared, done, user_data](const boost::system::error_code& ec, size_t n) {
                          finish(done, user_data, ec, n);
                        });
    });
    return;
  }
  Pieces p;
  for (size_t i = 0; i < count; ++i)
    p.buffers[i] = asio::const_buffer(pieces[i].ptr, pieces[i].len);
  p.count = count;
  io->socket().async_write_some(p, [done, user_data](const boost::system::error_code& ec,
                                                     size_t n) { finish(done, user_data, ec, n); });
}

void io_start_tls(skiff_io_t* io, int32_t role, skiff_str_t peer_app_id, skiff_str_t peer_ns,
                  skiff_io_done_fn done, void* user_data) {
  const auto& tls = io->host.workload_tls();
  auto& shared = io->shared;
  if (!tls) {  // mTLS off: plaintext, as the contract says
    asio::post(shared->socket.get_executor(), [done, user_data] {
      done(user_data, SKIFF_OK, 0, skiff_str_t{"", 0});
    });
    return;
  }
  if (shared->tls) return refuse(io, done, user_data, "TLS already started on this socket");
  auto context = tls->context();
  if (!context) return refuse(io, done, user_data, "no workload certificate installed");
  shared->tls = std::make_unique<skiff_io_t::Tls>(shared->socket, std::move(context));
  shared->tls_on.store(true, std::memory_order_release);
  std::string expected;
  if (role == SKIFF_TLS_CLIENT)
    expected = spiffe_uri(tls->trust_domain(), std::string_view(peer_ns.ptr, peer_ns.len),
                          std::string_view(peer_app_id.ptr, peer_app_id.len));
  auto type =
      role == SKIFF_TLS_CLIENT ? asio::ssl::stream_base::client : asio::ssl::stream_base::server;
  asio::dispatch(shared->socket.get_executor(), [shared, tls, type, expected = std::move(expected),
                                                 done, user_data]() mutable {
    shared->tls->stream.async_handshake(type, [shared, tls, expected = std::move(expected), done,
                                               user_data](const boost::system::error_code& ec) {
      if (ec) {
        if (ec == asio::error::operation_aborted)
          return done(user_data, SKIFF_ERR_CANCELLED, 0, skiff_str_t{"cancelled", 9});
        std::string why = "TLS handshake failed: " + ec.message();
        return done(user_data, SKIFF_ERR_UNAUTHENTICATED, 0, skiff_str_t{why.data(), why.size()});
      }
      auto peer = tls->verify_peer(shared->tls->stream.native_handle(), expected);
      if (!peer) {
        const auto& why = peer.error().message;
        return done(user_data, peer.error().code, 0, skiff_str_t{why.data(), why.size()});
      }
      shared->peer_identity = std::move(*peer);
      done(user_data, SKIFF_OK, 0, skiff_str_t{"", 0});
    });
  });
}

skiff_str_t io_peer_identity(skiff_io_t* io) {
  const auto& id = io->shared->peer_identity;
  return skiff_str_t{id.data(), id.size()};
}

void io_cancel(skiff_io_t* io) {
  if (auto& shared = io->shared; shared->tls_on.load(std::memory_order_acquire)) {
    // On the strand: the TLS operations that may be running use the socket.
    asio::dispatch(shared->socket.get_executor(), [shared] {
      boost::system::error_code ignored;
      shared->socket.cancel(ignored);
    });
    return;
  }
  boost::system::error_code ignored;
  io->socket().cancel(ignored);
}

void io_close(skiff_io_t* io) {
  if (auto shared = io->shared; shared->tls_on.load(std::memory_order_acquire)) {
    delete io;  // the stream lives on in its outstanding operations until they complete
    asio::dispatch(shared->socket.get_executor(), [shared] {
      boost::system::error_code ignored;
      shared->socket.close(ignored);
    });
    return;
  }
  boost::system::error_code ignored;
  io->socket().close(ignored);  // outstanding operations complete with operation_aborted
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
  api.io_start_tls = io_start_tls;
  api.io_peer_identity = io_peer_identity;
}

}  // namespace skiff
