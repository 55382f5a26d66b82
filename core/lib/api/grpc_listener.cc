#include "api/grpc_listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

namespace skiff {

namespace asio = boost::asio;

GrpcListener::GrpcListener(asio::io_context& io, const Settings& settings, Caller& caller,
                           const SidecarInfo& info)
    : io_(io), settings_(settings), caller_(caller), info_(info) {}

GrpcListener::~GrpcListener() {
  {
    std::lock_guard lock(server_mu_);
    stopping_ = true;
    if (server_) server_->shutdown();
  }
  server_.reset();  // joins the server's shutdown
  // The event loop no longer runs handlers of this object (it stopped, or the acceptor never
  // opened): close directly.
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_.cancel();
}

Result<uint16_t> GrpcListener::listen(const std::string& address, uint16_t port) {
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(io_);
  auto found =
      resolver.resolve(address, std::to_string(port), asio::ip::tcp::resolver::numeric_service, ec);
  if (!ec && found.empty()) ec = asio::error::host_not_found;
  auto fail = [&] {
    return make_error(SKIFF_ERR_UNAVAILABLE, "cannot listen on " + address + ":" +
                                                 std::to_string(port) +
                                                 " (gRPC API): " + ec.message());
  };
  if (ec) return fail();
  auto endpoint = found.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  // SO_REUSEADDR only: a second sidecar must fail to bind a port in use, not share its calls.
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return fail();
  }
  accept_next();
  return acceptor_.local_endpoint().port();
}

void GrpcListener::accept_next() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, asio::ip::tcp::socket s) {
    if (ec == asio::error::operation_aborted) return;  // shut down (this may be gone)
    if (ec) {
      // Out of descriptors, say: try again shortly instead of spinning on a ready listener.
      spdlog::warn("gRPC API: accept failed: {}", ec.message());
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([this](const boost::system::error_code& e) {
        if (!e) accept_next();
      });
      return;
    }
    hand_over(std::move(s));
    accept_next();
  });
}

void GrpcListener::hand_over(asio::ip::tcp::socket socket) {
  std::lock_guard lock(server_mu_);
  if (stopping_) return;  // the socket closes as it goes
  if (!server_) {
    auto module = load_grpc_module();
    if (!module) {
      spdlog::error("gRPC API: {}", module.error().message);
      return;
    }
    server_ = (*module)->create_api(io_, settings_, caller_, info_);
    if (!server_) {
      spdlog::error("gRPC API: the gRPC server did not start");
      return;
    }
  }
  boost::system::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  int fd = socket.release(ec);
  if (!ec) server_->serve_socket(fd);
}

void GrpcListener::shutdown() {
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
  });
  std::lock_guard lock(server_mu_);
  if (stopping_) return;
  stopping_ = true;
  if (server_) server_->shutdown();
}

}  // namespace skiff
