#include "api/grpc_listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "api/acceptors.hpp"

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
  // The event loop no longer runs handlers of this object (it stopped, or no acceptor ever
  // opened): close directly.
  close_all();
}

void GrpcListener::close_all() {
  boost::system::error_code ignored;
  for (auto& l : listeners_) {
    l->acceptor->close(ignored);
    l->retry.cancel();
  }
}

Result<uint16_t> GrpcListener::listen(const std::string& addresses, uint16_t port,
                                      bool skip_missing_family) {
  auto opened = open_acceptors(strand_, addresses, port, "gRPC API", skip_missing_family);
  if (!opened) return opened.error();
  for (auto& acceptor : *opened)
    listeners_.push_back(std::make_unique<Listener>(std::move(acceptor), strand_));
  for (auto& l : listeners_) accept_next(*l);
  return listeners_.front()->acceptor->local_endpoint().port();
}

void GrpcListener::accept_next(Listener& l) {
  l.acceptor->async_accept(
      [this, &l](const boost::system::error_code& ec, asio::ip::tcp::socket s) {
        if (ec == asio::error::operation_aborted) return;  // shut down (this may be gone)
        if (ec) {
          // Out of descriptors, say: try again shortly instead of spinning on a ready listener.
          spdlog::warn("gRPC API: accept failed: {}", ec.message());
          l.retry.expires_after(std::chrono::milliseconds(100));
          l.retry.async_wait([this, &l](const boost::system::error_code& e) {
            if (!e) accept_next(l);
          });
          return;
        }
        hand_over(std::move(s));
        accept_next(l);
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
  asio::post(strand_, [this] { close_all(); });
  std::lock_guard lock(server_mu_);
  if (stopping_) return;
  stopping_ = true;
  if (server_) server_->shutdown();
}

}  // namespace skiff
