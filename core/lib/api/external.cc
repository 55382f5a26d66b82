#include "api/external.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <map>
#include <mutex>

#include "common/body_piece.hpp"
#include "common/http_syntax.hpp"
#include "common/socket_check.hpp"
#include "invoke/caller.hpp"

namespace skiff {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using asio::ip::tcp;

namespace {

Response external_error(const std::string& target, const std::string& why) {
  return dapr_error(500, "ERR_DIRECT_INVOKE", "fail to invoke, id: " + target + ", err: " + why);
}

std::shared_ptr<ssl::context> make_tls(const HttpEndpointConfig* ep, std::string& error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (!ep || ep->ca_file.empty())
    ctx->set_default_verify_paths(ec);
  else
    ctx->load_verify_file(ep->ca_file, ec);
  if (!ec && ep && !ep->cert_file.empty()) {
    ctx->use_certificate_chain_file(ep->cert_file, ec);
    if (!ec) ctx->use_private_key_file(ep->key_file, ssl::context::pem, ec);
  }
  if (ec) {
    error = ec.message();
    return nullptr;
  }
  return ctx;
}

}  // namespace

std::optional<ExternalEndpoint> parse_base_url(std::string_view url) {
  ExternalEndpoint ep;
  if (url.starts_with("https://")) {
    ep.tls = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : url.substr(slash);
  while (path.ends_with('/')) path.remove_suffix(1);
  if (authority.empty()) return std::nullopt;
  std::string_view host = authority, port = ep.tls ? "443" : "80";
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      port = authority.substr(close + 2);
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || port.empty()) return std::nullopt;
  ep.host = std::string(host);
  ep.port = std::string(port);
  ep.base_path = std::string(path);
  return ep;
}

Result<std::unique_ptr<ExternalCaller>> ExternalCaller::create(
    asio::io_context& io, const Settings& settings,
    const std::vector<HttpEndpointConfig>& endpoints) {
  std::unique_ptr<ExternalCaller> caller(new ExternalCaller(io, settings));
  caller->pools_ = std::make_shared<Pools>();
  std::string error;
  for (const auto& cfg : endpoints) {
    auto ep = parse_base_url(cfg.base_url);
    if (!ep)
      return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                        "http_endpoints \"" + cfg.name + "\": bad base_url " + cfg.base_url);
    ep->name = cfg.name;
    for (const auto& [n, v] : cfg.headers) ep->headers.push_back({n, v});
    if (ep->tls) {
      ep->tls_context = make_tls(&cfg, error);
      if (!ep->tls_context)
        return make_error(SKIFF_ERR_INVALID_ARGUMENT,
                          "http_endpoints \"" + cfg.name + "\": TLS setup failed: " + error);
    }
    caller->endpoints_.push_back(std::move(*ep));
  }
  return caller;
}

const ExternalEndpoint* ExternalCaller::find(std::string_view name) const {
  for (const auto& ep : endpoints_)
    if (ep.name == name) return &ep;
  return nullptr;
}

std::vector<std::string> ExternalCaller::names() const {
  std::vector<std::string> out;
  for (const auto& ep : endpoints_) out.push_back(ep.name);
  return out;
}

Result<ExternalEndpoint> ExternalCaller::from_url(std::string_view url) const {
  auto ep = parse_base_url(url);
  if (!ep) return make_error(SKIFF_ERR_INVALID_ARGUMENT, "not an http(s) URL: " + std::string(url));
  if (ep->tls) {
    // Made on first use: loading the system's CA store costs an idle sidecar ~4 MiB.
    std::call_once(system_tls_once_, [this] {
      std::string error;
      system_tls_ = make_tls(nullptr, error);
      if (!system_tls_) spdlog::error("the system's CA certificates cannot be loaded: {}", error);
    });
    if (!system_tls_)
      return make_error(SKIFF_ERR_INTERNAL, "the system's CA certificates cannot be loaded");
    ep->tls_context = system_tls_;
  }
  return std::move(*ep);
}

namespace {

// One request and its answer on `stream`; true when the connection can carry another.
template <typename Stream>
asio::awaitable<bool> exchange_with(Stream& stream, const ExternalEndpoint& ep,
                                    const std::string& label, const std::string& target,
                                    HttpExchange& exchange, uint64_t timeout_ms,
                                    double sampling_rate, bool record_spans) {
  auto& lowest = beast::get_lowest_layer(stream);
  auto arm = [&] {
    if (timeout_ms)
      lowest.expires_after(std::chrono::milliseconds(timeout_ms));
    else
      lowest.expires_never();  // app.timeout = 0 waits forever
  };
  const auto& in = exchange.header();
  http::request<http::buffer_body> req{in.method(), target, 11};
  if (in.method() == http::verb::unknown) req.method_string(in.method_string());
  // An endpoint outside the mesh joins the calling app's trace too, as it does through Dapr; its
  // span continues from this sidecar's server span, the one span this sidecar records of it.
  auto forwarded = forwardable_request_headers(in);
  const auto trace =
      join_trace(forwarded, sampling_rate, record_spans, {.server = true}, exchange.context());
  for (const auto& h : forwarded) {
    bool overridden = std::any_of(ep.headers.begin(), ep.headers.end(),
                                  [&](const Header& e) { return beast::iequals(e.name, h.name); });
    if (!overridden) req.insert(h.name, h.value);
  }
  for (const auto& h : ep.headers) req.set(h.name, h.value);
  bool default_port = ep.port == (ep.tls ? "443" : "80");
  req.set(http::field::host, default_port ? ep.host : ep.host + ":" + ep.port);
  req.keep_alive(true);
  if (exchange.whole()) {
    if (!exchange.body().empty() || in.find(http::field::content_length) != in.end())
      req.content_length(exchange.body().size());
  } else if (auto len = in.find(http::field::content_length); len != in.end()) {
    req.set(http::field::content_length, len->value());
  } else {
    req.chunked(true);
  }

  boost::system::error_code ec;
  http::request_serializer<http::buffer_body> sr{req};
  for (bool last = false; !last;) {
    auto piece = co_await exchange.read_some();
    if (!piece.ok) co_return false;  // the app's connection broke; nothing to answer on it
    last = piece.last;
    arm();
    // An empty piece is not written: the chunked writer would take it for the end of the body.
    if (!piece.data.empty() || !sr.is_header_done()) {
      req.body().data = piece.data.empty() ? nullptr : const_cast<char*>(piece.data.data());
      req.body().size = piece.data.size();
      req.body().more = true;
      co_await http::async_write(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
    }
    if (!ec && last) {
      req.body().data = nullptr;
      req.body().size = 0;
      req.body().more = false;
      co_await http::async_write(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
      // A TLS 1.3 server that refuses us after the handshake (no client certificate, say)
      // says why in an alert that only a read sees; a write just meets the closed connection.
      beast::flat_buffer scratch;
      http::response_parser<http::empty_body> alert;
      boost::system::error_code why;
      arm();
      co_await http::async_read_header(stream, scratch, alert,
                                       asio::redirect_error(asio::use_awaitable, why));
      if (why.category() == asio::error::get_ssl_category()) ec = why;
      auto res = external_error(label, "sending the request failed: " + ec.message());
      co_await exchange.send(res);
      co_return false;
    }
  }

  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> answer;
  do {  // interim 1xx answers precede the real one: skip them
    answer.emplace();
    answer->body_limit(std::numeric_limits<uint64_t>::max());
    answer->skip(in.method() == http::verb::head);
    arm();
    co_await http::async_read_header(stream, buffer, *answer,
                                     asio::redirect_error(asio::use_awaitable, ec));
  } while (!ec && answer->get().result_int() / 100 == 1 && answer->get().result_int() != 101);
  auto& parser = *answer;
  if (ec) {
    auto res = external_error(label, "reading the answer failed: " + ec.message());
    co_await exchange.send(res);
    co_return false;
  }
  const auto& head = parser.get();
  if (auto bad = framing_problem(head, parser.chunked(), head.version())) {
    auto res = external_error(label, "the answer cannot be relayed: " + bad->message);
    co_await exchange.send(res);
    co_return false;
  }
  auto reusable = [&] { return parser.is_done() && head.keep_alive() && buffer.size() == 0; };
  std::vector<Header> headers = end_to_end_headers(head);
  std::erase_if(headers, [](const Header& h) { return names_field(h.name, kTraceParentHeader); });
  headers.push_back({std::string(kTraceParentHeader), trace.header()});
  std::optional<uint64_t> length;
  if (auto len = head.find(http::field::content_length); len != head.end())
    length = parse_content_length(len->value());
  PieceBuffer chunk;
  bool started = false;
  while (!parser.is_done() || !started) {
    arm();
    auto [read_ec, n] = co_await read_body_piece(stream, buffer, parser, chunk);
    if ((ec = read_ec)) break;
    std::string_view piece(chunk.data(), n);
    bool ok = co_await exchange.answer(head.result_int(), headers, length, piece, parser.is_done());
    started = true;
    if (!ok) co_return false;
  }
  if (ec) {
    spdlog::warn("answer from {} interrupted: {}", label, ec.message());
    if (!started) {
      auto res = external_error(label, "reading the answer failed: " + ec.message());
      co_await exchange.send(res);
    }
    co_return false;
  }
  co_return reusable();
}

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

}  // namespace

struct ExternalCaller::Pools {
  static constexpr size_t kMaxIdle = 16;
  std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<beast::tcp_stream>>> plain;
  std::map<std::string, std::vector<std::unique_ptr<TlsStream>>> tls;

  template <typename S>
  std::unique_ptr<S> take(std::map<std::string, std::vector<std::unique_ptr<S>>>& idle,
                          const std::string& key) {
    for (;;) {
      std::unique_ptr<S> s;
      {
        std::lock_guard lock(mu);
        auto& list = idle[key];
        if (list.empty()) return nullptr;
        s = std::move(list.back());
        list.pop_back();
      }
      if (still_open(beast::get_lowest_layer(*s).socket())) return s;
    }
  }
  template <typename S>
  void give(std::map<std::string, std::vector<std::unique_ptr<S>>>& idle, const std::string& key,
            std::unique_ptr<S> s) {
    beast::get_lowest_layer(*s).expires_never();
    std::lock_guard lock(mu);
    auto& list = idle[key];
    if (list.size() < kMaxIdle) list.push_back(std::move(s));
  }
};

asio::awaitable<void> ExternalCaller::invoke(const ExternalEndpoint& ep, const std::string& method,
                                             const std::string& query, HttpExchange& exchange,
                                             double sampling_rate, bool record_spans) {
  const std::string origin = (ep.tls ? "https://" : "http://") + ep.host + ":" + ep.port;
  const std::string label = ep.name.empty() ? origin : ep.name;
  // Logged and traced as the target, whether or not it is reached.
  exchange.context().target_app_id = label;
  const std::string key = ep.name + "|" + origin;
  std::string target = ep.base_path + "/" + method;
  if (!query.empty()) target += "?" + query;
  const uint64_t timeout_ms = settings_.app_timeout_ms;
  // A full-URL app id arrives percent-decoded: a space or CR/LF in its path would end the
  // request line and start a request nobody sent, on a connection the pool then shares.
  if (!is_http_target_part(target)) {
    auto res = dapr_error(400, "ERR_DIRECT_INVOKE",
                          "invalid endpoint URL: its path contains a space or a control character");
    co_await exchange.send(res);
    co_return;
  }

  // A pooled keep-alive connection first.
  if (!ep.tls) {
    if (auto s = pools_->take(pools_->plain, key)) {
      if (co_await exchange_with(*s, ep, label, target, exchange, timeout_ms, sampling_rate,
                                 record_spans))
        pools_->give(pools_->plain, key, std::move(s));
      co_return;
    }
  } else if (auto s = pools_->take(pools_->tls, key)) {
    if (co_await exchange_with(*s, ep, label, target, exchange, timeout_ms, sampling_rate,
                               record_spans))
      pools_->give(pools_->tls, key, std::move(s));
    co_return;
  }

  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  auto results = co_await resolver.async_resolve(ep.host, ep.port,
                                                 asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    auto res = external_error(label, "cannot resolve " + ep.host + ": " + ec.message());
    co_await exchange.send(res);
    co_return;
  }
  auto tcp_stream = std::make_unique<beast::tcp_stream>(io_);
  tcp_stream->expires_after(std::chrono::milliseconds(settings_.app_connect_timeout_ms));
  co_await tcp_stream->async_connect(results, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    auto res =
        external_error(label, "cannot connect to " + ep.host + ":" + ep.port + ": " + ec.message());
    co_await exchange.send(res);
    co_return;
  }
  tcp_stream->socket().set_option(tcp::no_delay(true), ec);
  if (timeout_ms)  // the handshake is bounded like any other wait on the endpoint
    tcp_stream->expires_after(std::chrono::milliseconds(timeout_ms));
  else
    tcp_stream->expires_never();
  if (!ep.tls) {
    if (co_await exchange_with(*tcp_stream, ep, label, target, exchange, timeout_ms, sampling_rate,
                               record_spans))
      pools_->give(pools_->plain, key, std::move(tcp_stream));
    co_return;
  }
  auto tls = std::make_unique<TlsStream>(std::move(*tcp_stream), *ep.tls_context);
  // SNI and certificate name checks use the host of the URL.
  boost::system::error_code ip_ec;
  asio::ip::make_address(ep.host, ip_ec);
  if (ip_ec) SSL_set_tlsext_host_name(tls->native_handle(), ep.host.c_str());
  tls->set_verify_callback(ssl::host_name_verification(ep.host));
  co_await tls->async_handshake(ssl::stream_base::client,
                                asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    auto res = external_error(label, "TLS handshake with " + ep.host + ":" + ep.port +
                                         " failed: " + ec.message() +
                                         (ec.category() == asio::error::get_ssl_category()
                                              ? " (server certificate verification or client "
                                                "certificate refused)"
                                              : ""));
    co_await exchange.send(res);
    co_return;
  }
  if (co_await exchange_with(*tls, ep, label, target, exchange, timeout_ms, sampling_rate,
                             record_spans))
    pools_->give(pools_->tls, key, std::move(tls));
}

}  // namespace skiff
