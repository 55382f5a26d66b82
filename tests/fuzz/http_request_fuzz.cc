// The app-facing HTTP request head as skiffd reads it: Beast's parser with skiffd's limits, the
// framing checks on top of it, and the invocation target taken from the request-target, the
// dapr-app-id header and basic auth.
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string_view>

#include "http/messages.hpp"
#include "invoke/target.hpp"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty() && !ec && !parser.is_done()) {
    size_t used = parser.put(boost::asio::buffer(in.data(), in.size()), ec);
    if (ec == http::error::need_more) break;
    if (used == 0 && !ec) break;
    in.remove_prefix(used);
  }
  if (!parser.is_header_done()) return 0;
  const auto& req = parser.get();
  (void)skiff::framing_problem(req, parser.chunked(), req.version());
  (void)skiff::forwardable_request_headers(req);
  const std::string_view target = req.target();
  (void)skiff::target_from_url(target, "default");
  if (auto id = req.find("dapr-app-id"); id != req.end())
    (void)skiff::target_from_header(id->value(), target, "default");
  if (auto auth = req.find(http::field::authorization); auth != req.end())
    (void)skiff::app_id_from_basic_auth(auth->value());
  return 0;
}
