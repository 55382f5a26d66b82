// Calls to HTTP endpoints that have no sidecar: named [[http_endpoints]] (base URL, headers added
// to every request, client TLS) and full URLs given as the app id. The caller's sidecar calls them
// directly over HTTP/1.1, or HTTPS with the server's certificate and host name verified.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/http_exchange.hpp"
#include "common/result.hpp"
#include "config/settings.hpp"

namespace skiff {

struct ExternalEndpoint {
  std::string name;  // empty for a full URL given as the app id
  bool tls = false;
  std::string host, port, base_path;  // base_path without a trailing '/'
  std::vector<Header> headers;
  std::shared_ptr<boost::asio::ssl::context> tls_context;
};

class ExternalCaller {
 public:
  // Fails with a message naming the endpoint when a certificate or key cannot be loaded.
  static Result<std::unique_ptr<ExternalCaller>> create(boost::asio::io_context& io,
                                                        const Settings& settings) {
    return create(io, settings, settings.http_endpoints);
  }
  // With these endpoints in place of the settings' own (a reload's new [[http_endpoints]]);
  // `settings` gives the timeouts and outlives the caller.
  static Result<std::unique_ptr<ExternalCaller>> create(
      boost::asio::io_context& io, const Settings& settings,
      const std::vector<HttpEndpointConfig>& endpoints);

  const ExternalEndpoint* find(std::string_view name) const;
  // A full URL ("https://host:port/base") as an endpoint with the system trust store.
  Result<ExternalEndpoint> from_url(std::string_view url) const;
  // Calls `method` (still percent-encoded) with `query` on the endpoint and relays the answer;
  // a trace that starts here is sampled at `sampling_rate`; with `record_spans`, calls of
  // sampled traces get a server span (the Router records it) that the endpoint's own span
  // continues from, otherwise the trace is only carried on.
  boost::asio::awaitable<void> invoke(const ExternalEndpoint& endpoint, const std::string& method,
                                      const std::string& query, HttpExchange& exchange,
                                      double sampling_rate, bool record_spans);
  std::vector<std::string> names() const;

 private:
  ExternalCaller(boost::asio::io_context& io, const Settings& settings)
      : io_(io), settings_(settings) {}
  struct Pools;
  boost::asio::io_context& io_;
  const Settings& settings_;
  std::vector<ExternalEndpoint> endpoints_;
  // Idle keep-alive connections per endpoint (named endpoints by name, full URLs by origin).
  std::shared_ptr<Pools> pools_;
  mutable std::once_flag system_tls_once_;
  mutable std::shared_ptr<boost::asio::ssl::context> system_tls_;  // made by the first https URL
};

// Splits "http(s)://host[:port][/path]"; nullopt when it is not such a URL.
std::optional<ExternalEndpoint> parse_base_url(std::string_view url);

}  // namespace skiff
