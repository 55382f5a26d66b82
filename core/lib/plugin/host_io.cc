#include "plugin/host_io.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/strand.hpp>
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
namespace {

// OpenSSL's own socket BIO sends without MSG_NOSIGNAL: a peer gone away would raise SIGPIPE and
// end the process. This one does what it does with that flag, and nothing else.
int nosignal_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  ssize_t n = ::send(static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b))), data,
                     static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_write(b);
  return static_cast<int>(n);
}

int nosignal_read(BIO* b, char* out, int len) {
  BIO_clear_retry_flags(b);
  ssize_t n = ::recv(static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b))), out,
                     static_cast<size_t>(len), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(b);
  // The end of the stream, for BIO_eof: what lets SSL_OP_IGNORE_UNEXPECTED_EOF see a peer that
  // closed without close_notify as an end, not as an error.
  if (n == 0) BIO_set_flags(b, BIO_FLAGS_IN_EOF);
  return static_cast<int>(n);
}

long nosignal_ctrl(BIO* b, int cmd, long, void*) {
  if (cmd == BIO_CTRL_EOF) return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // nothing is buffered here
}

// A BIO over a socket descriptor the host owns (and closes); null when OpenSSL has no memory.
BIO* socket_bio(int fd) {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "skiff socket");
    BIO_meth_set_write(m, nosignal_write);
    BIO_meth_set_read(m, nosignal_read);
    BIO_meth_set_ctrl(m, nosignal_ctrl);
    BIO_meth_set_create(m, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
    return m;
  }();
  BIO* bio = BIO_new(method);
  if (bio) BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  return bio;
}

}  // namespace

// After io_start_tls the socket carries TLS: OpenSSL reads and writes the descriptor itself
// (a socket BIO, read-ahead on), and the host waits for readiness when it asks, as nginx does.
// That spares the two copies and the engine of a memory-BIO stream: a record goes from the kernel
// into OpenSSL's buffer and is decrypted straight into the transport's. An SSL object is one state
// machine for both directions, so every TLS step runs on the socket's executor (a strand with
// several loop threads), and the steps hold the shared state alive until they complete: io_close
// may come while they are outstanding, and marks the state closed so that no step touches the
// descriptor after it (its number may already belong to another socket).
struct skiff_io_t {
  struct Tls {
    Tls(std::shared_ptr<boost::asio::ssl::context> ctx, int fd)
        : context(std::move(ctx)), ssl(SSL_new(context->native_handle())) {
      if (!ssl) return;
      BIO* bio = socket_bio(fd);
      if (!bio) {
        SSL_free(ssl);
        ssl = nullptr;
        return;
      }
      SSL_set_bio(ssl, bio, bio);  // one reference, owned by ssl
      // Whole records per recv, not a header and then a body.
      SSL_set_read_ahead(ssl, 1);
      SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
      // A peer that closes without close_notify ends the stream, as a plaintext one would; the
      // transport's framing tells a complete message from a cut one.
      SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    }
    ~Tls() { SSL_free(ssl); }
    Tls(const Tls&) = delete;
    Tls& operator=(const Tls&) = delete;
    std::shared_ptr<boost::asio::ssl::context> context;  // the set it started with
    SSL* ssl;
    std::string gathered;  // the pieces of one io_write, joined: records as full as they fit
    size_t written = 0;    // how much of `gathered` is out
    bool broken = false;   // a write was cancelled with a record half sent
  };
  struct Shared {
    explicit Shared(const boost::asio::any_io_executor& executor) : socket(executor) {}
    Socket socket;
    std::unique_ptr<Tls> tls;
    // Set once tls exists: io_cancel and io_close may run on another thread than io_start_tls.
    std::atomic<bool> tls_on{false};
    bool closed = false;  // on the executor only: io_close ran
    std::string peer_identity;
  };
  skiff_io_t(skiff::HostServices& host, const boost::asio::any_io_executor& executor)
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

using SharedPtr = std::shared_ptr<skiff_io_t::Shared>;

void tls_cancelled(skiff_io_done_fn done, void* user_data) {
  done(user_data, SKIFF_ERR_CANCELLED, 0, skiff_str_t{"cancelled", 9});
}

void tls_broken(skiff_io_done_fn done, void* user_data) {
  static constexpr std::string_view kWhy =
      "a TLS write was cancelled halfway; the stream is unusable";
  done(user_data, SKIFF_ERR_UNAVAILABLE, 0, skiff_str_t{kWhy.data(), kWhy.size()});
}

// Why an SSL call failed, for the transport; empties this thread's error queue, which must be
// empty before the next SSL call.
std::string tls_failure(const char* what, int ssl_error) {
  unsigned long e = ERR_get_error();
  std::string why = what;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    why.append(": ").append(buf);
  } else if (ssl_error == SSL_ERROR_SYSCALL) {
    why.append(": ").append(std::strerror(errno));
  }
  ERR_clear_error();
  return why;
}

// Waits until the socket can do what OpenSSL asked for, then runs `again` (on the executor),
// or completes with the wait's error (cancelled, closed).
template <typename Again>
void tls_wait(const SharedPtr& shared, int ssl_error, skiff_io_done_fn done, void* user_data,
              Again again, bool writing = false) {
  auto wait = ssl_error == SSL_ERROR_WANT_WRITE ? asio::socket_base::wait_write
                                                : asio::socket_base::wait_read;
  shared->socket.async_wait(wait, [shared, done, user_data, again = std::move(again),
                                   writing](const boost::system::error_code& ec) mutable {
    // A write stopped in the middle leaves a record half sent inside OpenSSL: the stream can
    // carry nothing sound after it.
    if ((ec || shared->closed) && writing) shared->tls->broken = true;
    if (ec || shared->closed)
      return finish(done, user_data,
                    ec ? ec : boost::system::error_code(asio::error::operation_aborted), 0);
    again();
  });
}

void tls_read(const SharedPtr& shared, void* buf, size_t cap, skiff_io_done_fn done,
              void* user_data) {
  if (shared->closed) return tls_cancelled(done, user_data);
  SSL* ssl = shared->tls->ssl;
  if (shared->tls->broken) return tls_broken(done, user_data);
  size_t n = 0;
  // SSL_get_error reads this thread's error queue: whatever other code left there must go first.
  ERR_clear_error();
  int r = SSL_read_ex(ssl, buf, cap, &n);
  if (r == 1) return done(user_data, SKIFF_OK, n, skiff_str_t{"", 0});
  int e = SSL_get_error(ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    return tls_wait(shared, e, done, user_data, [shared, buf, cap, done, user_data] {
      tls_read(shared, buf, cap, done, user_data);
    });
  if (e == SSL_ERROR_ZERO_RETURN) {  // close_notify, or the end of the stream without it
    ERR_clear_error();
    return done(user_data, SKIFF_OK, 0, skiff_str_t{"", 0});
  }
  std::string why = tls_failure("TLS read failed", e);
  done(user_data, SKIFF_ERR_UNAVAILABLE, 0, skiff_str_t{why.data(), why.size()});
}

// All of `gathered`, record after record, before the transport hears back: one completion per
// write, not one per 16 KiB record.
void tls_write(const SharedPtr& shared, skiff_io_done_fn done, void* user_data) {
  if (shared->closed) return tls_cancelled(done, user_data);
  auto& tls = *shared->tls;
  if (tls.broken) return tls_broken(done, user_data);
  while (tls.written < tls.gathered.size()) {
    size_t n = 0;
    ERR_clear_error();
    int r = SSL_write_ex(tls.ssl, tls.gathered.data() + tls.written,
                         tls.gathered.size() - tls.written, &n);
    if (r == 1) {
      tls.written += n;
      continue;
    }
    int e = SSL_get_error(tls.ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return tls_wait(
          shared, e, done, user_data,
          [shared, done, user_data] { tls_write(shared, done, user_data); },
          /*writing=*/true);
    std::string why = tls_failure("TLS write failed", e);
    return done(user_data, SKIFF_ERR_UNAVAILABLE, tls.written, skiff_str_t{why.data(), why.size()});
  }
  done(user_data, SKIFF_OK, tls.written, skiff_str_t{"", 0});
}

template <typename Verified>
void tls_handshake(const SharedPtr& shared, skiff_io_done_fn done, void* user_data,
                   Verified verified) {
  if (shared->closed) return tls_cancelled(done, user_data);
  SSL* ssl = shared->tls->ssl;
  ERR_clear_error();
  int r = SSL_do_handshake(ssl);
  if (r == 1) return verified();
  int e = SSL_get_error(ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    return tls_wait(shared, e, done, user_data, [shared, done, user_data, verified]() mutable {
      tls_handshake(shared, done, user_data, std::move(verified));
    });
  std::string why = tls_failure("TLS handshake failed", e);
  done(user_data, SKIFF_ERR_UNAUTHENTICATED, 0, skiff_str_t{why.data(), why.size()});
}

void io_read(skiff_io_t* io, void* buf, size_t cap, skiff_io_done_fn done, void* user_data) {
  // A zero-byte read would complete with 0 bytes, which means end of stream.
  if (cap == 0) return refuse(io, done, user_data, "io_read needs room for at least one byte");
  if (auto& shared = io->shared; shared->tls) {
    // Posted, not run here: OpenSSL may hold a whole record already, and the completion must not
    // run inside io_read.
    asio::post(shared->socket.get_executor(), [shared, buf, cap, done, user_data] {
      tls_read(shared, buf, cap, done, user_data);
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
    auto& tls = *shared->tls;
    tls.gathered.clear();
    tls.written = 0;
    for (size_t i = 0; i < count; ++i)
      tls.gathered.append(reinterpret_cast<const char*>(pieces[i].ptr), pieces[i].len);
    asio::post(shared->socket.get_executor(),
               [shared, done, user_data] { tls_write(shared, done, user_data); });
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
  auto fresh =
      std::make_unique<skiff_io_t::Tls>(std::move(context), shared->socket.native_handle());
  if (!fresh->ssl) return refuse(io, done, user_data, "cannot start TLS: out of memory");
  if (role == SKIFF_TLS_CLIENT)
    SSL_set_connect_state(fresh->ssl);
  else
    SSL_set_accept_state(fresh->ssl);
  shared->tls = std::move(fresh);
  shared->tls_on.store(true, std::memory_order_release);
  std::string expected;
  if (role == SKIFF_TLS_CLIENT)
    expected = spiffe_uri(tls->trust_domain(), std::string_view(peer_ns.ptr, peer_ns.len),
                          std::string_view(peer_app_id.ptr, peer_app_id.len));
  auto verified = [shared, tls, expected = std::move(expected), done, user_data] {
    auto peer = tls->verify_peer(shared->tls->ssl, expected);
    if (!peer) {
      const auto& why = peer.error().message;
      return done(user_data, peer.error().code, 0, skiff_str_t{why.data(), why.size()});
    }
    shared->peer_identity = std::move(*peer);
    tls->count_handshake();
    done(user_data, SKIFF_OK, 0, skiff_str_t{"", 0});
  };
  asio::post(shared->socket.get_executor(), [shared, done, user_data, verified]() mutable {
    tls_handshake(shared, done, user_data, std::move(verified));
  });
}

skiff_str_t io_peer_identity(skiff_io_t* io) {
  const auto& id = io->shared->peer_identity;
  return skiff_str_t{id.data(), id.size()};
}

skiff_status_t tls_check_peer(void* host, skiff_str_t leaf_pem, skiff_str_t peer_app_id,
                              skiff_str_t peer_ns, skiff_errbuf_t out) {
  const auto& tls = static_cast<HostServices*>(host)->workload_tls();
  if (!tls) {
    skiff_errbuf_set(out, "mTLS is off (security.mtls = false)");
    return SKIFF_ERR_FAILED_PRECONDITION;
  }
  const int size = static_cast<int>(std::min<size_t>(leaf_pem.len, 1 << 20));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(leaf_pem.ptr, size), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> leaf(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, &X509_free);
  ERR_clear_error();
  std::string expected;
  if (peer_app_id.len != 0)
    expected = spiffe_uri(tls->trust_domain(), std::string_view(peer_ns.ptr, peer_ns.len),
                          std::string_view(peer_app_id.ptr, peer_app_id.len));
  auto peer = tls->check_leaf(leaf.get(), expected);
  if (!peer) {
    skiff_errbuf_set(out, peer.error().message.c_str());
    return peer.error().code;
  }
  tls->count_handshake();
  skiff_errbuf_set(out, peer->c_str());
  return SKIFF_OK;
}

void io_cancel(skiff_io_t* io) {
  if (auto& shared = io->shared; shared->tls_on.load(std::memory_order_acquire)) {
    // Posted behind the TLS steps already posted (they run first and start their waits), so that
    // it cancels them too; on the strand, since the steps use the socket.
    asio::post(shared->socket.get_executor(), [shared] {
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
    delete io;  // the TLS state lives on in its outstanding steps until they complete
    asio::dispatch(shared->socket.get_executor(), [shared] {
      shared->closed = true;
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
  api.tls_check_peer = tls_check_peer;
}

}  // namespace skiff
