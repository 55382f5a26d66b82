// skiff-loadgen: an HTTP/1.1 load generator for the benchmark (bench/run.py).
//
// Open loop (--rate R): requests are scheduled at fixed times, R per second in all, and each
// latency is measured from the request's scheduled time, not from when a connection got round to
// sending it; a stalled server therefore shows as latency instead of as fewer requests
// (no coordinated omission). Closed loop (no --rate): every connection sends its next request
// as soon as the previous answer arrived; that measures maximum throughput.
// Keep-alive over --connections connections; results as one JSON object on stdout.
#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "report.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using skiff::bench::Clock;

namespace {

struct Options {
  skiff::bench::LoadShape load;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string path = "/";
  std::string method = "POST";
  int threads = 1;
  std::vector<std::string> headers;  // "Name: value"
};

using skiff::bench::LaneStats;
using skiff::bench::Schedule;

asio::awaitable<bool> connect(beast::tcp_stream& stream, const tcp::endpoint& ep) {
  boost::system::error_code ec;
  stream.close();
  co_await stream.async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return false;
  stream.socket().set_option(tcp::no_delay(true), ec);
  co_return true;
}

asio::awaitable<void> connection(Schedule& schedule, tcp::endpoint ep,
                                 const http::request<http::string_body>& request,
                                 LaneStats& stats) {
  auto ex = co_await asio::this_coro::executor;
  beast::tcp_stream stream(ex);
  asio::steady_timer timer(ex);
  beast::flat_buffer buffer;
  bool connected = co_await connect(stream, ep);
  while (auto due = schedule.next()) {
    if (Clock::now() < *due) {
      timer.expires_at(*due);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    boost::system::error_code ec;
    if (!connected) connected = co_await connect(stream, ep);
    if (!connected) {
      ++stats.errors;
      continue;
    }
    co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    if (!ec)
      co_await http::async_read(stream, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
    auto done = Clock::now();
    if (ec) {
      ++stats.errors;
      connected = false;
      buffer.clear();
      continue;
    }
    const auto& res = parser.get();
    if (!res.keep_alive()) connected = false;
    if (schedule.measured(*due)) {  // counted like the requests: in the measured window
      if (res.result_int() / 100 != 2) ++stats.failed;
      stats.latency.record(static_cast<uint64_t>(std::chrono::nanoseconds(done - *due).count()));
      ++stats.completed;
      stats.bytes_in += res.body().size();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"skiff-loadgen: HTTP/1.1 load generator (open or closed loop)"};
  app.add_option("--host", o.host, "Server address");
  app.add_option("--port", o.port, "Server port")->required();
  app.add_option("--path", o.path, "Request target, e.g. /v1.0/invoke/echo/method/echo");
  app.add_option("--method", o.method, "HTTP verb");
  skiff::bench::add_load_options(app, o.load, "Keep-alive connections");
  app.add_option("--threads", o.threads, "Event-loop threads")->check(CLI::PositiveNumber);
  app.add_option("--header,-H", o.headers, "Extra header \"Name: value\" (repeatable)");
  CLI11_PARSE(app, argc, argv);

  boost::system::error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec) {
    std::cerr << "skiff-loadgen: --host must be an IP address: " << o.host << "\n";
    return 2;
  }
  tcp::endpoint ep(address, o.port);
  auto verb = http::string_to_verb(o.method);
  if (verb == http::verb::unknown) {
    std::cerr << "skiff-loadgen: unknown --method " << o.method << "\n";
    return 2;
  }
  http::request<http::string_body> request{verb, o.path, 11};
  request.set(http::field::host, o.host + ":" + std::to_string(o.port));
  request.set(http::field::content_type, "application/octet-stream");
  for (const auto& h : o.headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos) {
      std::cerr << "skiff-loadgen: --header needs \"Name: value\": " << h << "\n";
      return 2;
    }
    auto value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    request.set(h.substr(0, colon), value);
  }
  request.body().assign(o.load.body_size, 'x');
  for (size_t i = 0; i < o.load.body_size; ++i) request.body()[i] = static_cast<char>('a' + i % 26);
  request.keep_alive(true);
  request.prepare_payload();

  asio::io_context io(o.threads);
  Schedule schedule(o.load);
  std::vector<LaneStats> stats(static_cast<size_t>(o.load.connections));
  for (auto& s : stats)
    asio::co_spawn(asio::make_strand(io), connection(schedule, ep, request, s), asio::detached);
  std::vector<std::thread> workers;
  for (int i = 1; i < o.threads; ++i) workers.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : workers) t.join();
  return skiff::bench::report(stats, o.load);
}
