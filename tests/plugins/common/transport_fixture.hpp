// The fixture of the transport tests: a transport plugin driven through the plugin ABI, as skiffd
// drives it, with a real server and client on loopback and an echoing callee. TRANSPORT_PLUGIN_DIR
// and TRANSPORT_TYPE name the plugin under test.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>

#include "plugin/catalog.hpp"
#include "plugin/components.hpp"

namespace skiff {
namespace {

namespace asio = boost::asio;

// The callee: echoes the body in 64 KiB pieces, or fails when the method says so.
asio::awaitable<void> echo(ServerCall call, CallHead head) {
  if (head.method == "early") {  // answers without reading the request (a 413, say)
    co_await call.write_head(ResponseHead{413, {}});
    co_await call.write("too large", true);
    co_return;
  }
  std::string body;
  for (;;) {
    auto r = co_await call.read();
    if (r.status != SKIFF_OK) co_return;
    body += r.chunk;
    if (r.end_of_body) break;
  }
  if (head.method == "slow") {  // answers long after any deadline a test sets
    asio::steady_timer wait(co_await asio::this_coro::executor, std::chrono::seconds(3));
    co_await wait.async_wait(asio::use_awaitable);
  }
  if (head.method == "fail") {
    static const std::string why = "the app is down";
    co_await call.fail(SKIFF_ERR_INTERNAL, why);
    co_return;
  }
  if (head.method == "fail-late") {  // the answer started, then the app went away
    static const std::string why = "the app went away mid-answer";
    co_await call.write_head(ResponseHead{200, {}});
    co_await call.write("partial", false);
    co_await call.fail(SKIFF_ERR_UNAVAILABLE, why);
    co_return;
  }
  ResponseHead out{201,
                   {{"x-method", head.method}, {"x-verb", head.verb}, {"x-query", head.query}}};
  co_await call.write_head(out);
  std::string_view rest(body);
  do {
    auto piece = rest.substr(0, 65536);
    rest.remove_prefix(piece.size());
    co_await call.write(piece, rest.empty());
  } while (!rest.empty());
}

struct Answer {
  skiff_status_t status = SKIFF_OK;
  int http_status = 0;
  std::vector<Header> headers;
  std::string body;
  std::string message;
};

class Transport : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_ = PluginCatalog::discover({TRANSPORT_PLUGIN_DIR}, host_.api());
    component_ = catalog_.find(SKIFF_KIND_TRANSPORT, TRANSPORT_TYPE);
    ASSERT_NE(component_, nullptr);
    auto t = TransportInstance::create(*component_, host_.api(), config_);
    ASSERT_TRUE(t.ok()) << t.error().message;
    transport_ = *t;
    handler_ = {sizeof(skiff_inbound_handler_t), this,
                [](void* self, skiff_server_call_t* call, const skiff_call_head_t* head) {
                  auto* test = static_cast<Transport*>(self);
                  asio::co_spawn(asio::make_strand(test->io_),
                                 echo(test->transport_->adopt(call), copy_call_head(*head)),
                                 asio::detached);
                }};
    auto port = transport_->listen("127.0.0.1", 0, &handler_);
    ASSERT_TRUE(port.ok()) << port.error().message;
    address_ = "127.0.0.1:" + std::to_string(*port);
    runner_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (transport_) asio::co_spawn(io_, transport_->shutdown(), asio::use_future).get();
    work_.reset();
    io_.stop();
    if (runner_.joinable()) runner_.join();
  }

  Answer call(const std::string& address, const std::string& method, const std::string& body,
              uint64_t timeout_ms = 0) {
    auto run = [&]() -> asio::awaitable<Answer> {
      CallHead head;
      head.target_app_id = "cart";
      head.method = method;
      head.verb = "PUT";
      head.query = "a=1";
      head.timeout_ms = timeout_ms;
      auto c = transport_->start_call(address, head);
      if (!c) co_return Answer{c.error().code, 0, {}, {}, c.error().message};
      std::string_view rest(body);
      do {
        auto piece = rest.substr(0, 65536);
        rest.remove_prefix(piece.size());
        if ((co_await c->write(piece, rest.empty())).status != SKIFF_OK) break;
      } while (!rest.empty());
      auto h = co_await c->read_head();
      if (h.status != SKIFF_OK) co_return Answer{h.status, 0, {}, {}, h.message};
      Answer a{SKIFF_OK, h.head.http_status, h.head.headers, {}, {}};
      for (;;) {
        auto r = co_await c->read();
        if (r.status != SKIFF_OK) co_return Answer{r.status, 0, {}, {}, r.message};
        a.body += r.chunk;
        if (r.end_of_body) break;
      }
      co_return a;
    };
    return asio::co_spawn(asio::make_strand(io_), run(), asio::use_future).get();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  HostServices host_{io_};
  PluginCatalog catalog_;
  const LoadedComponent* component_ = nullptr;
  toml::table config_;
  std::shared_ptr<TransportInstance> transport_;
  skiff_inbound_handler_t handler_{};
  std::string address_;
  std::thread runner_;
};

inline std::string header(const Answer& a, const std::string& name) {
  for (const auto& h : a.headers)
    if (h.name == name) return h.value;
  return "";
}

}  // namespace
}  // namespace skiff
