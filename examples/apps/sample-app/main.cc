// skiff-sample-app: the small HTTP app used by the demo and the tests. It tells what it received:
//   /status/<code>   answers with that status
//   /sleep/<ms>      answers after a delay
//   /inspect/...     answers a JSON description of the request (verb, target, headers, body size)
//   /stats           answers how many requests and /sleep calls this app has received
//   /call/<app>/<method...>  calls <app> through this app's own sidecar (DAPR_HTTP_PORT or
//                    --sidecar-port) with the same verb and body, and answers what came back
//   anything else    echoes the body, with X-App-Name, X-Echo-Verb and X-Echo-Target headers
#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

std::string g_name = "sample";
uint16_t g_sidecar_port = 3500;
uint64_t g_requests = 0;  // the app runs one thread: plain counters are enough
uint64_t g_sleeps = 0;

// What an app does to call another app: an HTTP request to its own sidecar.
asio::awaitable<http::response<http::string_body>> call_through_sidecar(
    const std::string& rest, http::request<http::string_body>& req) {
  auto slash = rest.find('/');
  std::string app = rest.substr(0, slash);
  std::string method = slash == std::string::npos ? "" : rest.substr(slash + 1);
  http::request<http::string_body> out{req.method(), "/v1.0/invoke/" + app + "/method/" + method,
                                       11};
  out.set(http::field::host, "127.0.0.1");
  if (auto ct = req[http::field::content_type]; !ct.empty()) out.set(http::field::content_type, ct);
  out.body() = req.body();
  out.prepare_payload();
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(std::chrono::seconds(30));
  co_await stream.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), g_sidecar_port),
                                asio::use_awaitable);
  co_await http::async_write(stream, out, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response<http::string_body> in;
  co_await http::async_read(stream, buffer, in, asio::use_awaitable);
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = nlohmann::json{
      {"caller", g_name},
      {"callee", app},
      {"status", in.result_int()},
      {"answered_by", std::string(in["X-App-Name"])},
      {"body",
       in.body()}}.dump();
  co_return res;
}

asio::awaitable<http::response<http::string_body>> answer(http::request<http::string_body>& req) {
  std::string target(req.target());
  std::string path = target.substr(0, target.find('?'));
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set("X-App-Name", g_name);
  res.set("X-Echo-Verb", req.method_string());
  res.set("X-Echo-Target", target);
  ++g_requests;
  if (path.starts_with("/call/")) {
    http::response<http::string_body> res{http::status::bad_gateway, req.version()};
    try {
      res = co_await call_through_sidecar(target.substr(6), req);
    } catch (const std::exception& e) {
      res.body() = std::string("cannot reach my sidecar: ") + e.what();
    }
    res.set("X-App-Name", g_name);
    co_return res;
  }
  if (path == "/stats") {
    res.set(http::field::content_type, "application/json");
    res.body() = nlohmann::json{{"requests", g_requests}, {"sleeps", g_sleeps}}.dump();
  } else if (path.starts_with("/status/")) {
    unsigned code = static_cast<unsigned>(std::atoi(path.c_str() + 8));
    res.result(code);
    if (code >= 200 && code != 204 && code != 304) res.body() = "status " + path.substr(8);
  } else if (path.starts_with("/sleep/")) {
    ++g_sleeps;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(std::atoll(path.c_str() + 7)));
    co_await timer.async_wait(asio::use_awaitable);
    res.body() = "slept";
  } else if (path.starts_with("/inspect")) {
    nlohmann::json headers = nlohmann::json::array();
    for (const auto& f : req)
      headers.push_back({std::string(f.name_string()), std::string(f.value())});
    nlohmann::json j = {{"app", g_name},
                        {"verb", std::string(req.method_string())},
                        {"target", target},
                        {"headers", headers},
                        {"body_size", req.body().size()}};
    res.set(http::field::content_type, "application/json");
    res.body() = j.dump();
  } else {
    if (auto ct = req[http::field::content_type]; !ct.empty())
      res.set(http::field::content_type, ct);
    res.body() = std::move(req.body());
  }
  co_return res;
}

asio::awaitable<void> session(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  try {
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(256 * 1024 * 1024);
      co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
      auto req = parser.release();
      bool head = req.method() == http::verb::head;
      auto res = co_await answer(req);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      if (head) res.body().clear();
      co_await http::async_write(stream, res, asio::use_awaitable);
      if (!req.keep_alive()) break;
    }
  } catch (const std::exception&) {
    // connection closed or malformed request: nothing to do for a sample app
  }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor) {
  for (;;) {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"skiff-sample-app: an HTTP app that tells what it received"};
  int port = 8080;
  std::string address = "127.0.0.1";
  app.add_option("--port", port, "Port to listen on")->capture_default_str();
  app.add_option("--address", address, "Address to listen on")->capture_default_str();
  app.add_option("--name", g_name, "Name reported in X-App-Name")->capture_default_str();
  if (const char* env = std::getenv("DAPR_HTTP_PORT"))
    g_sidecar_port = static_cast<uint16_t>(std::atoi(env));
  app.add_option("--sidecar-port", g_sidecar_port,
                 "HTTP port of this app's sidecar (default $DAPR_HTTP_PORT or 3500)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  asio::io_context io(1);
  tcp::acceptor acceptor(
      io, tcp::endpoint(asio::ip::make_address(address), static_cast<uint16_t>(port)));
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, auto) { io.stop(); });
  asio::co_spawn(io, listen(acceptor), asio::detached);
  std::cout << "sample app '" << g_name << "' listening on " << address << ":"
            << acceptor.local_endpoint().port() << std::endl;
  io.run();
  return 0;
}
