#include "ca/ca_server.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <nlohmann/json.hpp>

#include "ca/ca_directory.hpp"
#include "common/json_text.hpp"
#include "security/ca_protocol.hpp"
#include "security/certificates.hpp"
#include "security/spiffe_id.hpp"

namespace skiff {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kConnectionTimeout = std::chrono::seconds(10);
constexpr auto kServerCertLifetime = std::chrono::hours(24);
// Renewed hourly (sooner when the issuer cuts it short): a new issuing CA is presented within the
// hour, before sidecars whose bundle dropped the old root refuse the service.
constexpr auto kServerCertRenewal = std::chrono::hours(1);
// Connections at once; more are closed at accept. Each holds a descriptor for at most
// kConnectionTimeout, so a client that opens many cannot starve the service of descriptors.
constexpr int kMaxConnections = 256;

SignAnswer refuse(unsigned status, std::string_view code, const std::string& message) {
  nlohmann::json body = {{"errorCode", code}, {"message", message}};
  return {status, json_text(body), "refused a request: " + message};
}

}  // namespace

struct CaServer::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io, CaServerOptions o)
      : io(io), options(std::move(o)), acceptor(io), renew_timer(io), pool(2) {}

  asio::io_context& io;
  const CaServerOptions options;
  tcp::acceptor acceptor;
  asio::steady_timer renew_timer;
  asio::thread_pool pool;
  std::unique_ptr<JoinTokenStore> tokens;
  std::mutex mu;  // guards tls
  std::shared_ptr<asio::ssl::context> tls;
  bool stopped = false;
  int connections = 0;  // on the io_context only
  asio::steady_timer accept_pause{io};
  std::chrono::system_clock::time_point server_cert_end{};

  // The service's own certificate, a leaf of the issuing CA naming ca_service_uri: renewed daily,
  // and with every renewal a changed issuer is picked up.
  Status renew_server_certificate() {
    auto ca = load_ca_directory(options.dir);
    if (!ca) return ca.error();
    auto cert = issue_workload_certificate(ca->issuer, ca_service_uri(ca->trust_domain),
                                           kServerCertLifetime);
    if (!cert) return cert.error();
    server_cert_end = cert->not_after;
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
    SSL_CTX_set_num_tickets(ctx->native_handle(), 0);
    boost::system::error_code ec;
    ctx->use_certificate_chain(asio::buffer(cert->chain_pem), ec);
    if (!ec) ctx->use_private_key(asio::buffer(cert->key_pem), asio::ssl::context::pem, ec);
    if (ec) return make_error(SKIFF_ERR_INTERNAL, "the CA's TLS certificate: " + ec.message());
    std::lock_guard lock(mu);
    tls = std::move(ctx);
    return Ok{};
  }

  std::chrono::seconds next_renewal() const {
    auto half = std::chrono::duration_cast<std::chrono::seconds>(server_cert_end -
                                                                 std::chrono::system_clock::now()) /
                2;
    return std::clamp<std::chrono::seconds>(half, std::chrono::seconds(1),
                                            std::chrono::seconds(kServerCertRenewal));
  }

  void schedule_renewal(std::chrono::seconds after) {
    renew_timer.expires_after(after);
    renew_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped) return;
      asio::post(self->pool, [self] {
        auto st = self->renew_server_certificate();
        if (!st)
          spdlog::error("renewing the CA service's certificate failed: {}", st.error().message);
        asio::post(self->io, [self, ok = bool(st)] {
          self->schedule_renewal(ok ? self->next_renewal() : std::chrono::seconds(60));
        });
      });
    });
  }

  void accept() {
    acceptor.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
      if (self->stopped) return;
      if (ec) {
        // Out of descriptors, say: the listener stays readable, so accepting again at once would
        // spin. Pause, then go on.
        spdlog::warn("accepting a connection failed: {}", ec.message());
        self->accept_pause.expires_after(std::chrono::milliseconds(200));
        self->accept_pause.async_wait([self](boost::system::error_code) {
          if (!self->stopped) self->accept();
        });
        return;
      }
      if (self->connections >= kMaxConnections) {
        boost::system::error_code ignored;
        s.close(ignored);
      } else {
        self->serve(std::move(s));
      }
      self->accept();
    });
  }

  struct Connection {
    Connection(tcp::socket s, asio::ssl::context& ctx) : stream(std::move(s), ctx) {}
    beast::ssl_stream<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    http::request_parser<http::string_body> parser;
    http::response<http::string_body> response;
  };

  void serve(tcp::socket socket) {
    std::shared_ptr<asio::ssl::context> ctx;
    {
      std::lock_guard lock(mu);
      ctx = tls;
    }
    // The context lives as long as the connection that handshook with it.
    ++connections;
    auto c = std::shared_ptr<Connection>(new Connection(std::move(socket), *ctx),
                                         [ctx, self = shared_from_this()](Connection* p) {
                                           delete p;
                                           // The last handler of a connection runs on io.
                                           --self->connections;
                                         });
    c->parser.header_limit(8 * 1024);
    c->parser.body_limit(ca_protocol::kMaxRequestBody);
    beast::get_lowest_layer(c->stream).expires_after(kConnectionTimeout);
    c->stream.async_handshake(asio::ssl::stream_base::server, [self = shared_from_this(),
                                                               c](boost::system::error_code ec) {
      if (ec) return;
      http::async_read(c->stream, c->buffer, c->parser,
                       [self, c](boost::system::error_code ec, size_t) {
                         if (ec == http::error::body_limit)
                           return self->reply(
                               c, refuse(413, "ERR_MALFORMED_REQUEST", "the request is too large"));
                         if (ec) return;
                         self->dispatch(c);
                       });
    });
  }

  void dispatch(const std::shared_ptr<Connection>& c) {
    auto& req = c->parser.get();
    if (req.target() != ca_protocol::kSignPath)
      return reply(c, refuse(404, "ERR_NOT_FOUND", "no such endpoint"));
    if (req.method() != http::verb::post)
      return reply(c, refuse(405, "ERR_MALFORMED_REQUEST", "only POST"));
    asio::post(pool, [self = shared_from_this(), c] {
      auto answer = answer_sign_request(self->options.dir, *self->tokens, c->parser.get().body(),
                                        self->options.max_cert_ttl);
      asio::post(self->io, [self, c, answer = std::move(answer)]() mutable {
        self->reply(c, std::move(answer));
      });
    });
  }

  void reply(const std::shared_ptr<Connection>& c, SignAnswer answer) {
    if (answer.status == 200)
      spdlog::info("{}", answer.log);
    else
      spdlog::warn("{}", answer.log);
    c->response = http::response<http::string_body>(static_cast<http::status>(answer.status), 11);
    c->response.set(http::field::content_type, "application/json");
    c->response.set(http::field::connection, "close");
    c->response.body() = std::move(answer.body);
    c->response.prepare_payload();
    http::async_write(c->stream, c->response, [c](boost::system::error_code ec, size_t) {
      if (ec) return;
      c->stream.async_shutdown([c](boost::system::error_code) {});
    });
  }
};

Result<std::unique_ptr<CaServer>> CaServer::start(asio::io_context& io, CaServerOptions options) {
  auto state = std::make_shared<State>(io, std::move(options));
  auto tokens = JoinTokenStore::open(state->options.dir / "tokens.db");
  if (!tokens) return tokens.error();
  state->tokens = std::move(*tokens);
  if (auto st = state->renew_server_certificate(); !st) return st.error();
  boost::system::error_code ec;
  state->acceptor.open(state->options.listen.protocol(), ec);
  if (!ec) state->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(state->options.listen, ec);
  if (!ec) state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error(SKIFF_ERR_UNAVAILABLE,
                      "cannot listen on " + state->options.listen.address().to_string() + ":" +
                          std::to_string(state->options.listen.port()) + ": " + ec.message());
  state->accept();
  state->schedule_renewal(state->next_renewal());
  return std::unique_ptr<CaServer>(new CaServer(std::move(state)));
}

CaServer::~CaServer() {
  state_->stopped = true;
  boost::system::error_code ec;
  state_->acceptor.close(ec);
  state_->renew_timer.cancel();
  state_->accept_pause.cancel();
  state_->pool.join();
}

uint16_t CaServer::port() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec).port();
}

}  // namespace skiff
