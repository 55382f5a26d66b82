#include "exporter.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>

namespace skiff::otlp {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A keep-alive connection to the collector, used by the worker only. Blocking calls with the
// export timeout: the worker is the plugin's own thread, never a host event loop.
struct Exporter::Connection {
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
};

namespace {
constexpr auto kReportEvery = std::chrono::seconds(10);
}

Exporter::Exporter(ExportConfig config, Log log)
    : config_(std::move(config)), log_(std::move(log)), connection_(new Connection) {
  worker_ = std::thread([this] { run(); });
}

Exporter::~Exporter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stopping_flag_ = true;
  wake_.notify_all();
  // An export in progress to a stalled collector ends now instead of at its timeout; the queue
  // left is then sent with a short one.
  auto& c = *connection_;
  if (const uint64_t sending = send_generation_.load(); sending % 2)
    asio::post(c.io, [this, &c, sending] {
      if (send_generation_.load() == sending && c.stream)
        c.stream->expires_after(std::chrono::milliseconds(0));
    });
  worker_.join();
}

void Exporter::add(const skiff_span_t& span) {
  OwnedSpan copy;
  if (!copy_span(span, copy)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  bool full_batch = false;
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= config_.max_queue || stopping_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(copy));
    full_batch = queue_.size() >= config_.max_batch;
  }
  if (full_batch) wake_.notify_one();
}

void Exporter::run() {
  for (;;) {
    std::vector<OwnedSpan> batch;
    bool last = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(config_.schedule_delay_ms),
                     [this] { return stopping_ || queue_.size() >= config_.max_batch; });
      last = stopping_;
      const size_t n = std::min(queue_.size(), config_.max_batch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (last && !queue_.empty()) last = false;  // drain the rest before stopping
    }
    if (!batch.empty()) {
      const std::string body = encode_export_request(batch, config_.resource, "0.1.0");
      bool retry = false;
      std::string why;
      bool sent = send(body, retry, why);
      if (!sent && retry && !stopping_flag_.load()) {
        // 429, 502, 503, 504 or no connection: once more after a pause, as OTLP allows.
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
        lock.unlock();
        sent = send(body, retry, why);
      }
      if (sent) {
        exported_.fetch_add(batch.size(), std::memory_order_relaxed);
        if (failing_) log_(SKIFF_LOG_INFO, "exporting spans again");
        failing_ = false;
      } else {
        dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
        if (!failing_)
          log_(SKIFF_LOG_WARN, "cannot export spans to http://" + config_.host + ":" +
                                   config_.port + config_.target + ": " + why +
                                   "; they are dropped until the collector takes them");
        failing_ = true;
        if (stopping_flag_.load()) {
          // Shutting down and the collector does not take them: what is left is dropped at once,
          // so that the exit waits for one failed attempt at most.
          std::lock_guard lock(mutex_);
          dropped_.fetch_add(queue_.size(), std::memory_order_relaxed);
          queue_.clear();
          last = true;
        }
      }
    }
    if (last) dropped_reported_ = 0, last_report_ = {};  // the final count, whatever the interval
    report_drops();
    if (last) return;
  }
}

void Exporter::report_drops() {
  const uint64_t dropped = dropped_.load(std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  if (dropped == dropped_reported_ || now - last_report_ < kReportEvery) return;
  log_(SKIFF_LOG_WARN, "dropped " + std::to_string(dropped - dropped_reported_) + " spans (" +
                           std::to_string(dropped) + " in all, " + std::to_string(exported()) +
                           " exported): the collector is slow or unreachable, or the queue of " +
                           std::to_string(config_.max_queue) + " was full");
  dropped_reported_ = dropped;
  last_report_ = now;
}

bool Exporter::send(const std::string& body, bool& retry, std::string& why) {
  auto& c = *connection_;
  // Odd while a send runs, so that the destructor cuts short only this one.
  struct Sending {
    std::atomic<uint64_t>& generation;
    explicit Sending(std::atomic<uint64_t>& g) : generation(g) { ++generation; }
    ~Sending() { ++generation; }
  } sending(send_generation_);
  // Shutting down: what is left gets a short chance, so that a stalled collector cannot hold
  // the sidecar's exit.
  const auto timeout = std::chrono::milliseconds(
      stopping_flag_.load() ? std::min<uint64_t>(config_.timeout_ms, 1000) : config_.timeout_ms);
  // Runs one asynchronous operation to its end on this thread: the stream's timeouts apply only
  // to asynchronous operations. The result lives on the heap, so that a handler the destructor
  // cut short writes into something alive.
  auto wait = [&c](auto&& start) {
    auto result = std::make_shared<beast::error_code>(asio::error::would_block);
    start([result](beast::error_code ec, auto&&...) { *result = ec; });
    c.io.restart();
    c.io.run();
    return *result == asio::error::would_block ? beast::error_code(asio::error::operation_aborted)
                                               : *result;
  };
  beast::error_code ec;
  for (int fresh = 0; fresh < 2; ++fresh) {
    if (!c.stream) {
      tcp::resolver resolver(c.io);
      tcp::resolver::results_type endpoints;
      ec = wait([&](auto handler) {
        resolver.async_resolve(
            config_.host, config_.port,
            [&endpoints, handler](beast::error_code e, tcp::resolver::results_type r) mutable {
              endpoints = std::move(r);
              handler(e);
            });
      });
      if (ec) {
        retry = true;
        why = "cannot resolve " + config_.host + ": " + ec.message();
        return false;
      }
      c.stream.emplace(c.io);
      c.stream->expires_after(timeout);
      ec = wait([&](auto handler) {
        c.stream->async_connect(endpoints, [handler](beast::error_code e,
                                                     const tcp::endpoint&) mutable { handler(e); });
      });
      if (ec) {
        c.stream.reset();
        retry = ec != beast::error::timeout;
        why = ec == beast::error::timeout
                  ? "no connection within " + std::to_string(timeout.count()) + " ms"
                  : ec.message();
        return false;
      }
    }
    http::request<http::string_body> req(http::verb::post, config_.target, 11);
    req.set(http::field::host, config_.host + ":" + config_.port);
    req.set(http::field::content_type, "application/x-protobuf");
    req.set(http::field::user_agent, "skiff-observer-otlp/0.1.0");
    for (const auto& [k, v] : config_.headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    c.stream->expires_after(timeout);
    ec = wait([&](auto handler) {
      http::async_write(*c.stream, req,
                        [handler](beast::error_code e, size_t) mutable { handler(e); });
    });
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> res;
    res.body_limit(1 << 20);
    if (!ec)
      ec = wait([&](auto handler) {
        http::async_read(*c.stream, buffer, res,
                         [handler](beast::error_code e, size_t) mutable { handler(e); });
      });
    if (ec) {
      c.stream.reset();
      c.io.restart();
      c.io.run();  // handlers the reset cut short complete now, into their own results
      // A kept-alive connection the collector closed meanwhile: one fresh try.
      if (fresh == 0 && (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                         ec == asio::error::broken_pipe))
        continue;
      retry = ec != beast::error::timeout && ec != asio::error::operation_aborted;
      why = ec == beast::error::timeout
                ? "no answer within " + std::to_string(timeout.count()) + " ms"
                : ec.message();
      return false;
    }
    const unsigned status = res.get().result_int();
    if (!res.get().keep_alive()) c.stream.reset();
    if (status / 100 == 2) return true;
    retry = status == 429 || status == 502 || status == 503 || status == 504;
    why = "the collector answered " + std::to_string(status);
    return false;
  }
  retry = true;
  why = "the connection was closed";
  return false;
}

}  // namespace skiff::otlp
